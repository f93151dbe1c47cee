"""The engine: the database thread, the watcher runner and ingest (observations -> rules -> outbox in one
transaction), routing by mute, snooze and quiet hours. No Telegram imports."""
