-- when the footage starts on the camera's wall clock, as the uploader said (no time zone: the camera's own)
ALTER TABLE videos ADD COLUMN recorded_at timestamp;
