-- `vigil detections --since 24h`, `--host`, `--tenant`: the filters a triager narrows the
-- detections of a time window with. The time index serves the window; host and tenant follow
-- the service index's shape (value, then id for newest first).
CREATE INDEX detections_event_time ON detections (event_time);
CREATE INDEX detections_host ON detections (host, id);
CREATE INDEX detections_tenant ON detections (tenant, id);
