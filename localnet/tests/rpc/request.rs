//! A whole Sampling request through transactions, a commit past its
//! deadline, the checkpoint stream across a reconnect, restarts and seeds.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use atoma_localnet::node::TimeSource;
use atoma_localnet::{Localnet, Options};
use atoma_protocol::commitment::{blake2b256, commitment};
use atoma_protocol::{Event, ObjectId, ProtocolError, Role, Status};
use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest};

use crate::common::*;
use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_sampling_request_settles_through_transactions_and_conserves_sui() {
    let accounts = accounts(4);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let initial = total_sui(&net);
    let mut caps = Vec::new();
    for owner in &accounts[1..] {
        caps.push(register_node(&mut client, &net, owner, CLASS_MIN).await);
    }
    let fee = 3_000_000;
    let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, fee).await;
    assert!(succeeded(&submitted), "{:?}", submitted.effects);
    let events = events(&submitted);
    let (request, selected) = match &events[..] {
        [Event::RequestSubmitted(s), Event::NodesSelected(n)] => (s.request_id, n.nodes.clone()),
        other => panic!("unexpected events {other:?}"),
    };
    assert_eq!(selected.len(), 2);
    let request = Address::from(request);
    let mut path = vec![submitted.clone()];
    let output = blake2b256(b"the output");
    let mut members = Vec::new();
    for node in &selected {
        let i = caps.iter().position(|c| c.into_inner() == node.0).unwrap();
        members.push((&accounts[i + 1], caps[i], [i as u8; 32]));
    }
    for (owner, cap, salt) in &members {
        let c = commitment(&ObjectId::from(request), &ObjectId::from(cap), &output, &atoma_protocol::Digest(*salt));
        let done = node_call(&mut client, &net, owner, *cap, request, None, &c.0).await;
        assert!(succeeded(&done), "{:?}", done.effects);
        path.push(done);
    }
    let mut last = None;
    for (owner, cap, salt) in &members {
        let done = node_call(&mut client, &net, owner, *cap, request, Some((&output.0, salt)), &[0; 32]).await;
        path.push(done.clone());
        last = Some(done);
    }
    let last = last.unwrap();
    // No transaction of the request's path wrote the Network; the submission
    // and the reveals wrote the class's object, the commits only the request.
    let (network, class) = (net.node().with_ledger(|c| c.identity.network_id), class_object(&net, 0));
    for (k, done) in path.iter().enumerate() {
        let digest = Digest::from_base58(done.digest.as_deref().unwrap()).unwrap();
        let changed: Vec<Address> = net.node().with_ledger(|c| match &c.txs[&digest].effects {
            sui_sdk_types::TransactionEffects::V2(e) => e.changed_objects.iter().map(|o| o.object_id).collect(),
            other => panic!("effects {other:?}"),
        });
        assert!(!changed.contains(&network), "transaction {k} of the request's path wrote the Network");
        let commit = (1..=2).contains(&k);
        assert_eq!(changed.contains(&class), !commit, "transaction {k}: class written {}", changed.contains(&class));
        assert!(changed.contains(&request), "transaction {k} (the submission creates it)");
    }
    assert!(succeeded(&last));
    assert!(
        crate::common::events(&last)
            .iter()
            .any(|e| matches!(e, Event::RequestFinalized(f) if f.output_digest == output)),
        "{:?}",
        crate::common::events(&last)
    );
    // The fee was paid to the two nodes' owners as new coins.
    let changes = last.balance_changes.iter().filter(|b| b.amount.as_deref() == Some(&(fee / 2).to_string())).count();
    assert!(changes >= 1, "{:?}", last.balance_changes);
    // The Request object holds the Move layout of the settled request.
    let mut req = proto::GetObjectRequest::default();
    req.object_id = Some(request.to_string());
    req.read_mask = Some(FieldMask::from_paths(["contents"]));
    let o = client.ledger_client().get_object(req).await.unwrap().into_inner().object.unwrap();
    let decoded: atoma_protocol::Request = bcs::from_bytes(o.contents.unwrap().value.as_deref().unwrap()).unwrap();
    assert_eq!(decoded.status, Status::Finalized);
    assert_eq!(decoded.output_digest, Some(output));
    assert_eq!(decoded.nodes_with_role(Role::Executor).len(), 0, "slots are released when settled");
    assert_eq!(total_sui(&net), initial, "SUI is conserved, gas included");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_after_the_deadline_aborts_on_the_controllable_clock() {
    let accounts = accounts(3);
    let (time, clock) = TimeSource::manual(1_700_000_000_000);
    let net = start(&genesis(&accounts), Options { time, ..Default::default() }).await;
    let mut client = client(&net);
    let cap1 = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    let _cap2 = register_node(&mut client, &net, &accounts[2], CLASS_MIN).await;
    let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, 3_000_000).await;
    let Event::RequestSubmitted(s) = &crate::common::events(&submitted)[0] else { panic!("submitted") };
    clock.fetch_add(60_001, Ordering::SeqCst);
    let request = Address::from(s.request_id);
    let done = node_call(&mut client, &net, &accounts[1], cap1, request, None, &[1; 32]).await;
    let code = abort_code(&done).expect("aborted");
    assert_eq!(atoma_protocol::error::decode_abort_code(code), Some(ProtocolError::DeadlinePassed));
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_stream_in_order_and_a_reconnect_misses_nothing() {
    let accounts = accounts(3);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mask = FieldMask::from_paths(["sequence_number", "transactions.digest", "transactions.events"]);
    let mut req = proto::SubscribeCheckpointsRequest::default();
    req.read_mask = Some(mask.clone());
    let mut stream = client.subscription_client().subscribe_checkpoints(req.clone()).await.unwrap().into_inner();

    let mut executed = Vec::new();
    for owner in &accounts[1..] {
        let cap = register_node(&mut client, &net, owner, CLASS_MIN).await;
        executed.push(cap);
    }
    // Read until both registrations were seen.
    let mut seen_sequences = Vec::new();
    let mut seen_events = Vec::new();
    let mut last = 0;
    while seen_events.len() < 2 {
        let frame = tokio::time::timeout(WAIT, stream.next()).await.expect("a checkpoint").unwrap().unwrap();
        let cp = frame.checkpoint.unwrap();
        assert_eq!(frame.cursor, cp.sequence_number);
        last = cp.sequence_number.unwrap();
        seen_sequences.push(last);
        for t in &cp.transactions {
            for e in t.events.as_ref().map(|e| e.events.clone()).unwrap_or_default() {
                seen_events.push(sui_sdk_types::Event::try_from(&e).unwrap());
            }
        }
    }
    drop(stream);
    // While disconnected: one more registration and some empty checkpoints.
    let missed = register_node(&mut client, &net, &accounts[0], CLASS_MIN).await;
    net.node().seal_now();
    let height = net.node().with_ledger(|c| c.checkpoint_height());
    // Catch up from the cursor with GetCheckpoint, then subscribe again.
    let mut resumed = client.subscription_client().subscribe_checkpoints(req).await.unwrap().into_inner();
    for sequence in last + 1..=height {
        let mut get = proto::GetCheckpointRequest::default();
        get.checkpoint_id = Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(sequence));
        get.read_mask = Some(mask.clone());
        let cp = client.ledger_client().get_checkpoint(get).await.unwrap().into_inner().checkpoint.unwrap();
        seen_sequences.push(cp.sequence_number.unwrap());
        for t in &cp.transactions {
            for e in t.events.as_ref().map(|e| e.events.clone()).unwrap_or_default() {
                seen_events.push(sui_sdk_types::Event::try_from(&e).unwrap());
            }
        }
    }
    net.node().seal_now();
    let next = tokio::time::timeout(WAIT, resumed.next()).await.expect("a checkpoint").unwrap().unwrap();
    assert_eq!(next.cursor, Some(height + 1), "the new subscription continues at the next checkpoint");

    let contiguous: Vec<u64> = (seen_sequences[0]..=height).collect();
    assert_eq!(seen_sequences, contiguous, "every checkpoint once, in order");
    let registered: Vec<Address> = seen_events
        .iter()
        .filter_map(|e| match Event::from_bcs(e.type_.name().as_str(), &e.contents) {
            Some(Ok(Event::NodeRegistered(r))) => Some(Address::from(r.node_id)),
            _ => None,
        })
        .collect();
    executed.push(missed);
    assert_eq!(registered, executed, "every event once, in order, the missed one included");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_on_the_same_data_dir_continues_where_it_stopped() {
    let accounts = accounts(2);
    let dir = tempfile::tempdir().unwrap();
    let options = || Options { data_dir: Some(dir.path().join("ledger")), ..Default::default() };
    // Account 1 is funded through a Sui keystore file.
    let keystore = dir.path().join("sui.keystore");
    let entry = sui_crypto::ed25519::Ed25519PrivateKey::new([2u8; 32]).to_base64();
    std::fs::write(&keystore, format!("[\"{entry}\"]")).unwrap();
    let mut config = genesis(&accounts);
    config.accounts[1].address = None;
    config.accounts[1].keystore = Some(keystore.clone());
    let net = start(&config, options()).await;
    let mut client = client(&net);
    let cap = register_node(&mut client, &net, &accounts[1], CLASS_MIN).await;
    net.node().seal_now();
    let before = object(&mut client, cap).await;
    let (chain_id, height, coins_before) =
        net.node().with_ledger(|c| (c.chain_id(), c.checkpoint_height(), c.objects.len()));
    net.shutdown().await;
    // The data directory does not depend on the keystore any more.
    std::fs::remove_file(&keystore).unwrap();

    // A different genesis is ignored: the directory's own continues.
    let mut other = genesis(&accounts);
    other.reference_gas_price = 5;
    let net = start(&other, options()).await;
    let mut client = crate::common::client(&net);
    let after = object(&mut client, cap).await;
    assert_eq!((after.version, after.digest), (before.version, before.digest));
    net.node().with_ledger(|c| {
        assert_eq!(c.chain_id(), chain_id);
        assert!(c.checkpoint_height() >= height);
        assert_eq!(c.objects.len(), coins_before);
        assert_eq!(c.identity.reference_gas_price, 1_000);
    });
    // And it keeps executing.
    register_node(&mut client, &net, &accounts[0], CLASS_MIN).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ledger_two_networks_appended_to_is_refused_naming_the_record_cause_and_remedy() {
    // Two networks from one saved genesis, as two processes on one directory were.
    let accounts = accounts(2);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let options = |d: &std::path::Path| Options { data_dir: Some(d.to_path_buf()), ..Default::default() };
    drop(start(&genesis(&accounts), options(&a)).await); // dropping it unlocks the directory
    std::fs::create_dir(&b).unwrap();
    for file in std::fs::read_dir(&a).unwrap() {
        let file = file.unwrap().path();
        std::fs::copy(&file, b.join(file.file_name().unwrap())).unwrap();
    }
    // Each spends account 1's gas coin at the same version.
    for (d, collateral) in [(&a, CLASS_MIN), (&b, CLASS_MIN + 1)] {
        let net = start(&genesis(&accounts), options(d)).await;
        register_node(&mut client(&net), &net, &accounts[1], collateral).await;
        net.shutdown().await;
    }
    let (log_a, log_b) = (std::fs::read(a.join("ledger.log")).unwrap(), std::fs::read(b.join("ledger.log")).unwrap());
    let mut log = std::fs::OpenOptions::new().append(true).open(a.join("ledger.log")).unwrap();
    std::io::Write::write_all(&mut log, &log_b).unwrap();
    // The first of b's records that fails is its transaction (BCS variant 0 of `Record`).
    let (records_a, records_b) = (frames(&log_a), frames(&log_b));
    let failing = records_a.len() + records_b.iter().position(|r| r[0] == 0).unwrap() + 1;
    let total = records_a.len() + records_b.len();

    let Err(e) = Localnet::start(&genesis(&accounts), options(&a)).await else {
        panic!("a ledger two networks wrote replays")
    };
    let message = format!("{e:#}");
    let record = format!("record {failing} of {total} in {}", a.join("ledger.log").display());
    let restart = format!("atoma-localnet start --genesis {}", a.join("genesis.toml").display());
    for part in [
        record.as_str(),
        "does not apply",
        "two processes appended to this ledger",
        restart.as_str(),
        "--data-dir NEW_DIR",
        "atoma-localnet init --dir",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
}

/// The records of a ledger.log: `u32` little-endian length || BCS(Record), each.
fn frames(mut log: &[u8]) -> Vec<&[u8]> {
    let mut frames = Vec::new();
    while let Some((len, rest)) = log.split_first_chunk::<4>() {
        let (frame, rest) = rest.split_at(u32::from_le_bytes(*len) as usize);
        frames.push(frame);
        log = rest;
    }
    frames
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fixed_seed_repeats_the_draws() {
    let accounts = accounts(5);
    let mut selections = BTreeSet::new();
    for _ in 0..2 {
        let (time, _clock) = TimeSource::manual(1_700_000_000_000);
        let net = start(&genesis(&accounts), Options { time, ..Default::default() }).await;
        let mut client = client(&net);
        for owner in &accounts[1..] {
            register_node(&mut client, &net, owner, CLASS_MIN).await;
        }
        let submitted = submit_sampling(&mut client, &net, &accounts[0], 2, 3_000_000).await;
        let Event::RequestSubmitted(s) = &crate::common::events(&submitted)[0] else { panic!("submitted") };
        selections.insert((s.seed, Digest::from_base58(submitted.digest.as_deref().unwrap()).unwrap()));
    }
    assert_eq!(selections.len(), 1, "the same transactions on the same seed draw the same seed");
}
