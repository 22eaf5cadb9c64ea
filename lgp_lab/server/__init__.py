"""The hosted API: FastAPI routes over a Lab, served by uvicorn on the Lab's engine loop.

``create_app(lab, workflows)`` builds the ASGI app; ``background.start_server`` runs it
on the Lab's engine loop (``lgp-lab serve`` and ``%lgp_serve`` both use it).
"""
