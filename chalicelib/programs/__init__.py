"""Programs: the tenants of a deployment (a brand chain, a mall, one merchant of a SaaS)."""
