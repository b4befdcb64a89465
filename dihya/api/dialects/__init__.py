"""Dialects at the edge: each public wire format translated to and from the one pipeline."""
