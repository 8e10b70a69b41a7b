-- a zone may carry its own loitering limit (a checkout queue is not a doorway); NULL: the global rule only
ALTER TABLE zones ADD COLUMN loiter_s double precision CHECK (loiter_s IS NULL OR loiter_s > 0);
