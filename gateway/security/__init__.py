"""Who may do what: API tokens and roles, device provisioning (credentials, ACLs), TLS material."""
