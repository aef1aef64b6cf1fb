"""The district upload portal and the coordinators' board: a FastAPI app built from routers (faces.portal.routes)
with dependencies (faces.portal.deps); `faces.portal.app.create_app` wires them."""
