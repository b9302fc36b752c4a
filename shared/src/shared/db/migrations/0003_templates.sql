-- Standalone templates (spec §2.5): tags for the bee templates, and the indexes their endpoints read by.

ALTER TABLE templates ADD COLUMN tags text[] NOT NULL DEFAULT '{}';

-- Templates list: the LC's live standalone templates, in id order.
CREATE INDEX templates_standalone_by_lc ON templates (loyalty_club_id, id)
    WHERE standalone AND deleted_at IS NULL;

-- Bee templates filtered by tag (`tags @> ARRAY[$n]`), and the LC's distinct tags.
CREATE INDEX templates_bee_tags ON templates USING gin (tags)
    WHERE standalone AND deleted_at IS NULL AND type = 'bee_email';

-- "Is this template somebody's wrapper?" is asked before every destroy and every wrapper change; the
-- foreign key alone has no index on the referencing side.
CREATE INDEX templates_by_wrapper ON templates (wrapper_id) WHERE wrapper_id IS NOT NULL;
