"""One module per chat app; each provides a Channel (bot.chat) that feeds the responder."""
