// Console configuration, the one file to fill in when deploying (see README, "Console").
//
// Locally leave `cognito` null: the sign-in page lists the local stack's demo users.
// Deployed, set `cognito` to the user pool's hosted UI:
//   domain       the hosted UI's base URL, e.g. "https://segshare-prod.auth.eu-west-1.amazoncognito.com"
//   clientId     the app client id (the stack's UserPoolClientId; implicit grant, scope openid)
//   redirectUri  the console's URL as listed in the app client's callback URLs (default: this page)
//   logoutUri    where the hosted UI returns after sign-out (default: redirectUri)
//   scopes       default ["openid"]
export default {
  cognito: null,
};
