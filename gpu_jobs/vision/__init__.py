"""Vision adapters: detection, tracking, pose and person attributes. Heavy libraries load lazily."""
