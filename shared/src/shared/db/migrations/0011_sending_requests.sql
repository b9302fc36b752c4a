-- sending.requested (events spec §1): one sending per LC and request id, however often the request is delivered.
CREATE UNIQUE INDEX sendings_by_request ON sendings (loyalty_club_id, request_id) WHERE request_id IS NOT NULL;
