"""Date and time formats of the console (settings.FORMAT_MODULE_PATH), per language.

Django's own show times to the minute ("7:20 p.m."): created, started and finished of one
generation then read the same, and an admin cannot tell what happened first. These add the
seconds; every format not named here stays Django's for the language.
"""
