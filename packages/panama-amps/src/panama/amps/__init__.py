"""PANAMA label sources: the built-in amp sim and real devices (VST3, LV2, sound card, folder)."""
