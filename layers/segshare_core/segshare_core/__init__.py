"""segshare core layer: domain rules, store access and API wiring shared by every function."""
