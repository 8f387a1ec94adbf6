"""One APIRouter per resource; `rigshift.server.app.ROUTERS` lists them (adding one is one line)."""
