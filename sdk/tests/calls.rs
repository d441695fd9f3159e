//! Every typed call against the local network over loopback, and protocol
//! errors surfacing as the protocol's typed errors.

mod common;

use atoma_protocol::commitment::{blake2b256, commitment, dispute_key};
use atoma_protocol::{Event, Mode, ObjectId, Params, ProtocolError, Role, Status, SubmitArgs};
use atoma_sdk::{Chain, Executed, SdkError};
use common::*;
use sui_sdk_types::Address;

fn args(input: &[u8]) -> SubmitArgs {
    SubmitArgs {
        model_id: "tiny".into(),
        input_digest: blake2b256(input).0.to_vec(),
        input_inline: input.to_vec(),
        input_uri: None,
        timeout_ms: 10_000,
    }
}

fn expect_protocol<T: std::fmt::Debug>(result: Result<T, SdkError>, expected: ProtocolError) {
    match result {
        Err(e) => assert_eq!(e.protocol_error(), Some(expected), "{e}"),
        Ok(v) => panic!("expected {expected:?}, got {v:?}"),
    }
}

fn selected(executed: &Executed, role: Role) -> Vec<Address> {
    executed
        .events
        .iter()
        .filter_map(|e| match e {
            Event::NodesSelected(s) if s.role == role => Some(s.nodes.iter().map(Address::from).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect()
}

struct Nodes {
    chains: Vec<(Address, Chain)>,
}

impl Nodes {
    fn chain(&self, node: &Address) -> &Chain {
        &self.chains.iter().find(|(id, _)| id == node).expect("a known node").1
    }

    fn salt(node: &Address) -> [u8; 32] {
        blake2b256(node.as_bytes()).0
    }

    /// A disputer's salt: the dispute key of its output (here the output
    /// bytes are the digest's 32 bytes).
    fn dispute_salt(request: &Address, output: &[u8; 32]) -> [u8; 32] {
        dispute_key(&ObjectId::from(request), output).0
    }

    async fn commit(
        &self,
        request: Address,
        node: Address,
        output: &[u8; 32],
        primary: bool,
    ) -> Result<Executed, SdkError> {
        self.commit_with_salt(request, node, output, &Self::salt(&node), primary).await
    }

    async fn commit_with_salt(
        &self,
        request: Address,
        node: Address,
        output: &[u8; 32],
        salt: &[u8; 32],
        primary: bool,
    ) -> Result<Executed, SdkError> {
        let c = commitment(
            &ObjectId::from(request),
            &ObjectId::from(node),
            &atoma_protocol::Digest(*output),
            &atoma_protocol::Digest(*salt),
        );
        let chain = self.chain(&node);
        if primary { chain.commit_primary(request, node, &c.0).await } else { chain.commit(request, node, &c.0).await }
    }

    async fn reveal(&self, request: Address, node: Address, output: &[u8; 32]) -> Result<Executed, SdkError> {
        self.chain(&node).reveal(request, node, output, &Self::salt(&node)).await
    }
}

async fn register(net: &Net, keys: &[common_key::Key]) -> Nodes {
    let mut chains = Vec::new();
    for key in keys {
        let chain = net.chain(key).await;
        let (id, _) =
            chain.register_node(0, CLASS_MIN, "http://127.0.0.1:9", &key.public_key()).await.expect("register");
        chains.push((id, chain));
    }
    Nodes { chains }
}

mod common_key {
    pub use atoma_sdk::Key;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_calls_succeed_and_their_errors_are_typed() {
    let keys = keys(2);
    let net = Net::start(&keys, false).await;
    let admin = net.chain(&keys[0]).await;
    let cap = net.admin_cap();
    let (class, _) = admin.add_hardware_class(cap, "gpu", "device=cuda", CLASS_MIN, TASK_LOCK).await.unwrap();
    assert_eq!(class, 1);
    admin.add_model(cap, "big", &WEIGHTS, class, 1_000).await.unwrap();
    expect_protocol(admin.add_model(cap, "big", &WEIGHTS, class, 1_000).await, ProtocolError::ModelExists);
    expect_protocol(
        admin.add_hardware_class(cap, "", "device=cuda", CLASS_MIN, TASK_LOCK).await,
        ProtocolError::InvalidName,
    );
    let params = Params { max_n: 8, ..admin.network().await.unwrap().params };
    admin.set_params(cap, &params).await.unwrap();
    assert_eq!(admin.network().await.unwrap().params.max_n, 8);
    expect_protocol(admin.set_params(cap, &Params { max_n: 0, ..params }).await, ProtocolError::InvalidParams);
    admin.withdraw_treasury(cap, 0).await.unwrap();
    expect_protocol(admin.withdraw_treasury(cap, 1).await, ProtocolError::InsufficientTreasury);
    let classes = admin.classes().await.unwrap();
    assert_eq!(classes.iter().map(|(_, c)| c.name.as_str()).collect::<Vec<_>>(), ["cpu", "gpu"]);
    let models = admin.models().await.unwrap();
    assert_eq!(models.len(), 2);
    // Another account holds no AdminCap: the node refuses to let it use the admin's.
    let other = net.chain(&keys[1]).await;
    assert!(matches!(other.add_model(cap, "x", &WEIGHTS, 0, 1_000).await, Err(SdkError::Rejected(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn node_calls_succeed_and_their_errors_are_typed() {
    let keys = keys(2);
    let net = Net::start(&keys, true).await;
    let chain = net.chain(&keys[1]).await;
    expect_protocol(
        chain.register_node(0, CLASS_MIN - 1, "http://x", &keys[1].public_key()).await,
        ProtocolError::InsufficientCollateral,
    );
    expect_protocol(
        chain.register_node(7, CLASS_MIN, "http://x", &keys[1].public_key()).await,
        ProtocolError::UnknownClass,
    );
    let (node, _) = chain.register_node(0, CLASS_MIN, "http://x", &keys[1].public_key()).await.unwrap();
    chain.add_collateral(node, 5).await.unwrap();
    chain.set_endpoint(node, "http://127.0.0.1:7").await.unwrap();
    expect_protocol(chain.set_endpoint(node, "").await, ProtocolError::InvalidEndpoint);
    let info = chain.node(node).await.unwrap().unwrap();
    assert_eq!((info.collateral, info.endpoint.as_str()), (CLASS_MIN + 5, "http://127.0.0.1:7"));
    expect_protocol(chain.withdraw(node).await, ProtocolError::NotLeaving);
    chain.request_leave(node).await.unwrap();
    expect_protocol(chain.request_leave(node).await, ProtocolError::AlreadyLeaving);
    expect_protocol(chain.withdraw(node).await, ProtocolError::Unbonding);
    net.advance(60_000);
    let before = chain.balance().await.unwrap();
    chain.withdraw(node).await.unwrap();
    let after = chain.balance().await.unwrap();
    assert!(
        after + atoma_sdk::chain::DEFAULT_GAS_BUDGET > before + CLASS_MIN + 5,
        "the collateral came back, less gas"
    );
    assert!(chain.node(node).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sampling_request_settles_through_typed_calls() {
    let keys = keys(4);
    let net = Net::start(&keys, false).await;
    let nodes = register(&net, &keys[1..]).await;
    let requester = net.chain(&keys[0]).await;
    expect_protocol(
        requester.submit(&args(b"x"), Mode::Sampling { n: 9 }, None, 9_000_000).await,
        ProtocolError::NotEnoughNodes,
    );
    expect_protocol(requester.submit(&args(b"x"), Mode::Sampling { n: 2 }, None, 1).await, ProtocolError::FeeTooLow);
    // A secret hash goes with Sealed only; the SDK refuses the rest before sending.
    let sealed = Mode::Sealed { p_bps: 10_000, n: 1 };
    let refused = |r: Result<(Address, atoma_sdk::Executed), SdkError>| matches!(r, Err(SdkError::InvalidArgument(_)));
    assert!(refused(requester.submit(&args(b"x"), sealed, None, 9_000_000).await));
    assert!(refused(requester.submit(&args(b"x"), Mode::Sampling { n: 2 }, Some(&[1; 32]), 2_000_000).await));
    let mut bad = args(b"x");
    bad.input_digest = vec![0; 32];
    expect_protocol(
        requester.submit(&bad, Mode::Sampling { n: 2 }, None, 2_000_000).await,
        ProtocolError::InputDigestMismatch,
    );

    let (request, executed) =
        requester.submit(&args(b"hello"), Mode::Sampling { n: 2 }, None, 2_000_000).await.unwrap();
    let members = selected(&executed, Role::Executor);
    assert_eq!(members.len(), 2);
    let outsider = nodes.chains.iter().map(|(id, _)| *id).find(|id| !members.contains(id)).unwrap();
    let output = blake2b256(b"out").0;
    expect_protocol(nodes.commit(request, outsider, &output, false).await, ProtocolError::NotSelected);
    for m in &members {
        nodes.commit(request, *m, &output, false).await.unwrap();
    }
    expect_protocol(nodes.commit(request, members[0], &output, false).await, ProtocolError::WrongPhase);
    expect_protocol(
        nodes.chain(&members[0]).reveal(request, members[0], &output, &[0; 32]).await,
        ProtocolError::CommitmentMismatch,
    );
    nodes.reveal(request, members[0], &output).await.unwrap();
    let last = nodes.reveal(request, members[1], &output).await.unwrap();
    assert!(last.events.iter().any(|e| matches!(e, Event::RequestFinalized(f) if f.output_digest.0 == output)));
    let r = requester.request(request).await.unwrap();
    assert_eq!(r.status, Status::Finalized);
    assert_eq!(requester.nodes().await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_share_a_few_gas_coins_without_failing() {
    // The requester has three coins and sends 24 transactions at once: each
    // waits for a free coin, and none signs over a stale coin version.
    let keys = keys(4);
    let net = Net::start(&keys, false).await;
    register(&net, &keys[1..]).await;
    let requester = net.chain(&keys[0]).await;
    let calls = (0..24).map(|i| {
        let requester = &requester;
        async move {
            requester
                .submit(&args(format!("concurrent {i}").as_bytes()), Mode::Sampling { n: 1 }, None, 1_000_000)
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let failures: Vec<String> = results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
    assert!(failures.is_empty(), "{} of 24 failed: {failures:?}", failures.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_validation_sealed_dispute_and_expiry_run_through_typed_calls() {
    // Seven nodes: a Sampling pair and a full dispute quorum of five.
    let keys = keys(8);
    let net = Net::start(&keys, true).await;
    let nodes = register(&net, &keys[1..]).await;
    let requester = net.chain(&keys[0]).await;
    let keeper = net.chain(&keys[7]).await;
    let output = blake2b256(b"out").0;

    // CrossValidation, always checked, one verifier.
    let (request, executed) =
        requester.submit(&args(b"cv"), Mode::CrossValidation { p_bps: 10_000, n: 1 }, None, 3_000_000).await.unwrap();
    let primary = selected(&executed, Role::Executor)[0];
    expect_protocol(nodes.commit(request, primary, &output, false).await, ProtocolError::PrimaryCommitRequired);
    let committed = nodes.commit(request, primary, &output, true).await.unwrap();
    assert!(committed.events.iter().any(|e| matches!(e, Event::VerificationDrawn(v) if v.checked)));
    let selection = keeper.select_nodes(request).await.unwrap();
    let verifier = selected(&selection, Role::Verifier)[0];
    expect_protocol(keeper.select_nodes(request).await, ProtocolError::WrongPhase);
    nodes.commit(request, verifier, &output, false).await.unwrap();
    nodes.reveal(request, primary, &output).await.unwrap();
    let done = nodes.reveal(request, verifier, &output).await.unwrap();
    assert!(done.events.iter().any(|e| matches!(e, Event::RequestFinalized(f) if f.verified)));

    // Sealed, always checked, one verifier from the pool.
    let secret = [5u8; 32];
    let hash = atoma_protocol::commitment::secret_hash(&atoma_protocol::Digest(secret)).0;
    let (request, executed) =
        requester.submit(&args(b"sealed"), Mode::Sealed { p_bps: 10_000, n: 1 }, Some(&hash), 4_000_000).await.unwrap();
    let primary = selected(&executed, Role::Executor)[0];
    let pool = selected(&executed, Role::Candidate);
    let seed = executed
        .events
        .iter()
        .find_map(|e| if let Event::RequestSubmitted(s) = e { Some(s.seed) } else { None })
        .unwrap();
    let (checked, chosen) =
        atoma_protocol::ops::sealed_draw(&seed, &atoma_protocol::Digest(secret), 10_000, 1, pool.len() as u64);
    assert!(checked);
    let verifier = pool[chosen[0] as usize];
    expect_protocol(nodes.commit(request, verifier, &output, false).await, ProtocolError::PrimaryNotCommitted);
    nodes.commit(request, primary, &output, false).await.unwrap();
    nodes.commit(request, verifier, &output, false).await.unwrap();
    expect_protocol(requester.reveal_secret(request, &[6; 32]).await, ProtocolError::SecretMismatch);
    requester.reveal_secret(request, &secret).await.unwrap();
    nodes.reveal(request, primary, &output).await.unwrap();
    let done = nodes.reveal(request, verifier, &output).await.unwrap();
    assert!(done.events.iter().any(|e| matches!(e, Event::RequestFinalized(f) if f.verified)));

    // A disagreement: a dispute quorum decides.
    let (request, executed) =
        requester.submit(&args(b"dispute"), Mode::Sampling { n: 2 }, None, 2_000_000).await.unwrap();
    let members = selected(&executed, Role::Executor);
    let wrong = blake2b256(b"wrong").0;
    nodes.commit(request, members[0], &output, false).await.unwrap();
    nodes.commit(request, members[1], &wrong, false).await.unwrap();
    nodes.reveal(request, members[0], &output).await.unwrap();
    let raised = nodes.reveal(request, members[1], &wrong).await.unwrap();
    assert!(raised.events.iter().any(|e| matches!(e, Event::DisputeRaised(_))));
    expect_protocol(keeper.select_nodes(request).await, ProtocolError::WrongPhase);
    keeper.open_dispute(request).await.unwrap();
    let quorum = selected(&keeper.select_nodes(request).await.unwrap(), Role::Disputer);
    assert_eq!(quorum.len(), 5);
    let key = Nodes::dispute_salt(&request, &output);
    for d in &quorum {
        nodes.commit_with_salt(request, *d, &output, &key, false).await.unwrap();
    }
    let mut last = None;
    for d in &quorum {
        last = Some(nodes.chain(d).reveal(request, *d, &output, &key).await.unwrap());
    }
    let events = last.unwrap().events;
    assert!(events.iter().any(|e| matches!(e, Event::NodeSlashed(s) if Address::from(s.node_id) == members[1])));
    assert!(events.iter().any(|e| matches!(e, Event::RequestFinalized(f) if f.output_digest.0 == output)));

    // Nobody commits: expire extends the deadline by the grace, then slashes and replaces.
    let (request, _) = requester.submit(&args(b"silent"), Mode::Sampling { n: 1 }, None, 1_000_000).await.unwrap();
    expect_protocol(keeper.expire(request).await, ProtocolError::DeadlineNotReached);
    net.advance(10_001);
    let extended = keeper.expire(request).await.unwrap();
    assert!(matches!(extended.events.as_slice(), [Event::DeadlineExtended(_)]), "{:?}", extended.events);
    expect_protocol(keeper.expire(request).await, ProtocolError::DeadlineNotReached);
    net.advance(Params::default().grace_ms);
    let expired = keeper.expire(request).await.unwrap();
    assert!(expired.events.iter().any(|e| matches!(e, Event::NodeSlashed(_))));
    expect_protocol(keeper.open_dispute(request).await, ProtocolError::WrongPhase);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_connections_name_what_is_wrong() {
    let keys = keys(1);
    let net = Net::start(&keys, false).await;
    let err = Chain::connect("not a url", net.package(), net.network(), keys[0].clone()).await.err().unwrap();
    assert!(err.to_string().contains("has no scheme"), "{err}");
    let err = Chain::connect("127.0.0.1:9000", net.package(), net.network(), keys[0].clone()).await.err().unwrap();
    assert!(err.to_string().contains("write http://127.0.0.1:9000"), "{err}");
    let err = Chain::connect("http://[::1", net.package(), net.network(), keys[0].clone()).await.err().unwrap();
    assert!(err.to_string().contains("bad node URL"), "{err}");
    let err = Chain::connect(&net.net.url(), net.package(), Address::from_static("0x1234"), keys[0].clone())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = Chain::connect(&net.net.url(), Address::from_static("0x99"), net.network(), keys[0].clone())
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("not the Network of package"), "{err}");
    let err = Chain::connect("http://127.0.0.1:1", net.package(), net.network(), keys[0].clone()).await.err().unwrap();
    assert!(err.to_string().contains("cannot reach a Sui node at http://127.0.0.1:1"), "{err}");
    // A payment larger than the balance.
    let chain = net.chain(&keys[0]).await;
    let err = chain.register_node(0, BALANCE * 2, "http://x", &keys[0].public_key()).await.err().unwrap();
    assert!(matches!(err, SdkError::InsufficientBalance(_)), "{err}");
}
