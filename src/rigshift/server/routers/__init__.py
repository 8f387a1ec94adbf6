"""HTTP routers, one module per resource (APIRouter + pydantic request models + auth Depends)."""
