from program.mail.delivery import init_app

__all__ = ["init_app"]
