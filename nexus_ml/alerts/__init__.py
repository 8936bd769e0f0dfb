"""Operator alerts: the ``Notifier`` seam, message rendering (pt/en), Telegram."""
