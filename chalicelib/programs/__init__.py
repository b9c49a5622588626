"""Programs: the tenants of a deployment (a brand chain, a mall, one merchant of a SaaS)."""

from chalicelib.programs import repository as _repository  # noqa: E402,F401  (registers uow.programs)
