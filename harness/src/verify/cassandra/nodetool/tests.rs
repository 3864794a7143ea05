//! Layer 1 (pure): the parser on real outputs. The 3.x output is the seed's own (000); the 4.x
//! and 5.0 outputs follow the format those versions print (KiB units, 16 tokens, the 5.0
//! ownership note), and the multi-DC and down/joining cases exercise every column.

use super::*;

/// Seed 000, verbatim: `kubectl exec -ti cassandra-xxxxx -- nodetool status` on Cassandra 3.x
/// after scaling to 4 (the seed masks the addresses).
const SEED_3X: &str = "Datacenter: DC1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address          Load       Tokens       Owns (effective)  Host ID                               Rack
UN  172.xxx.xxx.xxx  109.28 KB  256          50.0%             6402e90d-7995-4ee1-bb9c-36097eb2c9ec  Rack1
UN  172.xxx.xxx.xxx  196.04 KB  256          51.4%             62eb2a08-c621-4d9c-a7ee-ebcd3c859542  Rack1
UN  172.xxx.xxx.xxx  114.44 KB  256          46.2%             41e7d359-be9b-4ff1-b62f-1d04aa03a40c  Rack1
UN  172.xxx.xxx.xxx  79.83 KB   256          52.4%             fb1dd881-0eff-4883-88d0-91ee31ab5f57  Rack1
";

const CASSANDRA_41: &str = "Datacenter: DC1
===============
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address      Load        Tokens  Owns (effective)  Host ID                               Rack
UN  10.244.1.5   104.36 KiB  16      76.0%             6d194555-f6eb-41d0-c000-000000000001  Rack1
UN  10.244.2.7   70.21 KiB   16      59.3%             6d194555-f6eb-41d0-c000-000000000002  Rack1
UJ  10.244.3.9   22.6 KiB    16      ?                 6d194555-f6eb-41d0-c000-000000000003  Rack1
DN  10.244.3.4   ?           16      64.7%             6d194555-f6eb-41d0-c000-000000000004  Rack1
";

const CASSANDRA_50_TWO_DCS: &str = "Datacenter: dc-east
===================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load        Tokens  Owns  Host ID                               Rack
UN  10.0.1.10   1.02 MiB    16      ?     aaaaaaaa-bbbb-4ccc-8ddd-000000000001  rack-a
UL  10.0.1.11   998.5 KiB   16      ?     aaaaaaaa-bbbb-4ccc-8ddd-000000000002  rack-b

Datacenter: dc-west
===================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load        Tokens  Owns  Host ID                               Rack
UM  10.0.2.10   1.5 GiB     16      ?     aaaaaaaa-bbbb-4ccc-8ddd-000000000003  rack-a

Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless
";

#[test]
fn parses_the_seed_3x_output() {
    let ring = parse_status(SEED_3X).unwrap();
    assert_eq!(ring.nodes.len(), 4);
    assert!(ring.nodes.iter().all(|n| n.is_up_normal()
        && n.datacenter == "DC1"
        && n.rack == "Rack1"
        && n.tokens == Some(256)));
    assert_eq!(
        ring.nodes[1].load_bytes,
        Some((196.04f64 * 1024.0).round() as u64)
    );
    assert_eq!(ring.nodes[0].owns_percent, Some(50.0));
    assert_eq!(ring.nodes[0].address, "172.xxx.xxx.xxx");
    assert_eq!(
        ring.nodes[3].host_id,
        "fb1dd881-0eff-4883-88d0-91ee31ab5f57"
    );
}

#[test]
fn parses_4x_states_unknown_load_and_ownership() {
    let ring = parse_status(CASSANDRA_41).unwrap();
    let codes: Vec<String> = ring.nodes.iter().map(RingNode::code).collect();
    assert_eq!(codes, ["UN", "UN", "UJ", "DN"]);
    assert_eq!(ring.nodes[2].owns_percent, None);
    assert_eq!(ring.nodes[3].load_bytes, None);
    assert_eq!(ring.nodes[3].status, Status::Down);
    assert_eq!(ring.nodes[0].tokens, Some(16));
}

#[test]
fn parses_50_with_two_datacenters_racks_and_the_ownership_note() {
    let ring = parse_status(CASSANDRA_50_TWO_DCS).unwrap();
    assert_eq!(ring.nodes.len(), 3);
    assert_eq!(
        (
            ring.nodes[1].datacenter.as_str(),
            ring.nodes[1].rack.as_str(),
            ring.nodes[1].state
        ),
        ("dc-east", "rack-b", State::Leaving)
    );
    assert_eq!(
        (ring.nodes[2].datacenter.as_str(), ring.nodes[2].state),
        ("dc-west", State::Moving)
    );
    assert_eq!(ring.nodes[2].load_bytes, Some(1610612736));
}

#[test]
fn unknown_formats_are_errors_naming_the_line() {
    let err = parse_status(
        "error: No nodes present in the cluster. Has this node finished starting up?\n",
    )
    .unwrap_err();
    assert_eq!(err.line, 1);
    let err = parse_status("").unwrap_err();
    assert!(err.message.contains("no node rows"), "{err}");
    let garbled = SEED_3X.replace("6402e90d-7995-4ee1-bb9c-36097eb2c9ec", "not-a-host-id");
    let err = parse_status(&garbled).unwrap_err();
    assert_eq!(err.line, 6);
    assert!(err.message.contains("host ID"), "{err}");
    let row_first = "UN  10.0.0.1  1 KiB  16  100%  6d194555-f6eb-41d0-c000-000000000001  Rack1\n";
    assert!(
        parse_status(row_first)
            .unwrap_err()
            .message
            .contains("before"),
        "rows need their datacenter"
    );
    let new_columns = SEED_3X.replace("--  Address", "--  Endpoint");
    assert!(
        parse_status(&new_columns)
            .unwrap_err()
            .message
            .contains("column header")
    );
}
