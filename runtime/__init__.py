"""The model at run time, for eval and the bot alike: loading a clone (models), decoding replies in batches
(decoding), and the engines that serve chats (engine)."""
