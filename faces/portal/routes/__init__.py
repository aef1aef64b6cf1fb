"""The portal's routers, one per area; faces.portal.app.create_app includes them."""
