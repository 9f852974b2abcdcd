"""Airflow's own authentication, for pages mounted in the API server (the 季度报送 dashboard)."""
from __future__ import annotations


async def resolve_user_from_token(token: str):
    """Validate a JWT with Airflow's configured auth manager (signature, expiry, revocation)."""
    from airflow.api_fastapi.core_api.security import resolve_user_from_token as resolve

    return await resolve(token)
