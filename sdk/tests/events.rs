//! The event stream: in order, resumable from a cursor, and unbroken across
//! a restart of the node it reads from.

mod common;

use std::time::Duration;

use atoma_localnet::{Localnet, Options};
use atoma_protocol::Event;
use atoma_sdk::{Chain, EventStream, Start};
use common::*;

async fn next_registration(stream: &mut EventStream) -> (atoma_sdk::EventCursor, sui_sdk_types::Address) {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("an event in time").unwrap();
        if let Event::NodeRegistered(r) = e.event {
            return (e.cursor, sui_sdk_types::Address::from(r.node_id));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stream_survives_a_node_restart_without_loss_or_duplication() {
    let keys = keys(4);
    let dir = tempfile::tempdir().unwrap();
    let options = |listen| Options {
        listen,
        data_dir: Some(dir.path().to_path_buf()),
        seed: Some([3; 32]),
        ..Default::default()
    };
    let net = Localnet::start(&genesis(&keys), options("127.0.0.1:0".parse().unwrap())).await.unwrap();
    let addr = net.addr();
    let package = net.node().with_ledger(|c| c.identity.package);
    let network = net.node().with_ledger(|c| c.identity.network_id);
    let url = net.url();
    let chain = |i: usize| Chain::connect(&url, package, network, keys[i].clone());

    let mut stream = EventStream::new(sui_rpc::Client::new(&url).unwrap(), package, Start::Checkpoint(0));
    // Genesis events come first, in order.
    let first = stream.next().await.unwrap();
    assert!(matches!(first.event, Event::NetworkCreated(_)));

    let (a, _) = chain(1).await.unwrap().register_node(0, CLASS_MIN, "http://a", &keys[1].public_key()).await.unwrap();
    let (cursor_a, seen_a) = next_registration(&mut stream).await;
    assert_eq!(seen_a, a);

    // The node goes away; a registration happens... after it comes back on the same address.
    net.node().seal_now();
    net.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let net = Localnet::start(&genesis(&keys), options(addr)).await.unwrap();
    let (b, _) = chain(2).await.unwrap().register_node(0, CLASS_MIN, "http://b", &keys[2].public_key()).await.unwrap();
    let (c, _) = chain(3).await.unwrap().register_node(0, CLASS_MIN, "http://c", &keys[3].public_key()).await.unwrap();
    let (cursor_b, seen_b) = next_registration(&mut stream).await;
    let (_, seen_c) = next_registration(&mut stream).await;
    assert_eq!((seen_b, seen_c), (b, c), "nothing lost, nothing repeated, in order");
    assert!(cursor_a < cursor_b);

    // A new stream resuming after a cursor starts right after it.
    let mut resumed = EventStream::new(sui_rpc::Client::new(&url).unwrap(), package, Start::After(cursor_a));
    let (_, again_b) = next_registration(&mut resumed).await;
    assert_eq!(again_b, b);
    net.shutdown().await;
}
