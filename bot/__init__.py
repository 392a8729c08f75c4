"""The reporters' front door: the Telegram bot, its message catalogues, and a local Bot API emulator."""
