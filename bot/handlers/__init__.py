"""Only what users type and tap: commands, settings, read-outs, presets, charts, channels,
membership, permissions and command menus."""
