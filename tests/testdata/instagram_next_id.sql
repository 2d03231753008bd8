-- The peer: Instagram's ID function as published in "Sharding & IDs at Instagram"
-- (Instagram Engineering, 2012), with its shard 5 and schema insta5. Kept as
-- published (only the blog's '%%' printed as the '%' it stands for) so the tests
-- measure the function people copy: nextval() % 1024 wraps after 1024 IDs in one
-- millisecond, and a clock that steps back repeats earlier stamps.
CREATE SCHEMA insta5;
CREATE SEQUENCE insta5.table_id_seq;

CREATE OR REPLACE FUNCTION insta5.next_id(OUT result bigint) AS $$
DECLARE
    our_epoch bigint := 1314220021721;
    seq_id bigint;
    now_millis bigint;
    shard_id int := 5;
BEGIN
    SELECT nextval('insta5.table_id_seq') % 1024 INTO seq_id;

    SELECT FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) INTO now_millis;
    result := (now_millis - our_epoch) << 23;
    result := result | (shard_id << 10);
    result := result | (seq_id);
END;
$$ LANGUAGE PLPGSQL;
