// A real OpenID Connect provider (npm's oidc-provider) for Dihya's SSO tests, on loopback.
// Usage: node server.js PORT REDIRECT_URI POST_LOGOUT_URI. People sign in with any login
// (devInteractions); their groups come from OIDC_GROUPS, e.g. {"olga": ["llm-admins"]}.
import Provider from "oidc-provider";

const [port, redirect, afterLogout] = process.argv.slice(2);
const groups = JSON.parse(process.env.OIDC_GROUPS || "{}");

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: "dihya",
    client_secret: "dihya-test-secret",
    redirect_uris: [redirect],
    post_logout_redirect_uris: [afterLogout],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["preferred_username", "name"],
    groups: ["groups"],
  },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id, email: `${id}@example.org`, email_verified: true,
      preferred_username: id, name: id, groups: groups[id] || [],
    }),
  }),
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["a-test-cookie-key"] },
});
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
