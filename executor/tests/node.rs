//! `atoma-node` processes on the local network, driven by the SDK: honest
//! quorums finalize in every mode; each adversarial behaviour is caught and
//! slashed as the protocol says; a node killed at each step of a request
//! recovers and the request finalizes; an input the model refuses is an
//! error output the nodes agree on, computed once. Needs the `adversary`
//! feature (scripts/test enables it).
#![cfg(feature = "adversary")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use atoma_executor::engine::{ClassProfile, Dtype};
use atoma_executor::node::config::{Adversary, Config};
use atoma_localnet::genesis::{GenesisConfig, ParamsConfig};
use atoma_localnet::{Localnet, Options};
use atoma_protocol::{Event, Mode, SlashReason};
use atoma_sdk::client::Outcome;
use atoma_sdk::{Client, InputSpec, Key, RequestSpec};
use sui_sdk_types::Address;

const CLASS: &str = "cpu-avx2-t1/torch-2.13.0";
const CLASS_MIN: u64 = 10_000_000_000;
const WAIT: Duration = Duration::from_secs(120);

/// The test model's manifest, written once. A static is never dropped: the
/// directory stays, under cargo's target/tmp rather than the system's, so that
/// `cargo clean` takes it.
fn model_manifest() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = DIR.get_or_init(|| tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap());
        atoma_executor::testmodel::write_test_model(dir.path()).unwrap()
    })
}

fn weights_digest() -> String {
    atoma_executor::manifest::ModelManifest::read(model_manifest()).unwrap().digest().to_string()
}

/// A local network, its directory, the requester and up to `n` node keys.
struct Net {
    net: Localnet,
    dir: tempfile::TempDir,
    keys: Vec<Key>,
    nodes: Vec<Child>,
    /// Output and metrics ports of each node configured, by index.
    ports: std::collections::HashMap<usize, (u16, u16)>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for child in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Net {
    async fn start(nodes: usize) -> Net {
        Net::start_with(nodes, |g| g).await
    }

    /// A network whose genesis `extra` changes (more models, other parameters).
    async fn start_with(nodes: usize, extra: impl FnOnce(GenesisConfig) -> GenesisConfig) -> Net {
        let keys: Vec<Key> = (0..=nodes as u8).map(|i| Key::from_ed25519_bytes([i + 11; 32])).collect();
        let genesis = GenesisConfig::new(keys[0].address())
            .with_params(ParamsConfig { reveal_window_ms: Some(5_000), max_retries: Some(1), ..Default::default() })
            .with_accounts(keys.iter().map(|k| k.address()), 1_000_000_000_000, 3)
            .with_class(CLASS, &ClassProfile::cpu_test().chain_profile(), CLASS_MIN, 1_000_000_000)
            .with_model("tiny-gpt", &weights_digest(), CLASS, 1_000);
        let net = Localnet::start(&extra(genesis), Options::default()).await.unwrap();
        Net { net, dir: tempfile::tempdir().unwrap(), keys, nodes: Vec::new(), ports: Default::default() }
    }

    fn config(&mut self, i: usize, adversary: Option<Adversary>) -> PathBuf {
        self.config_in(i, adversary, ClassProfile::cpu_test())
    }

    /// Writes node `i`'s configuration, serving the class with `profile`.
    fn config_in(&mut self, i: usize, adversary: Option<Adversary>, profile: ClassProfile) -> PathBuf {
        let (package, network) = self.net.node().with_ledger(|c| (c.identity.package, c.identity.network_id));
        let dir = self.dir.path().join(format!("node{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let free = || atoma_localnet::ports::unused_port().unwrap();
        let (port, metrics) = (free(), free());
        self.ports.insert(i, (port, metrics));
        let key = self.keys[i].to_suiprivkey().unwrap();
        let config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], port)),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], metrics))),
            models: vec![model_manifest().to_path_buf()],
            adversary,
            class: profile,
            ..Config::new(&self.net.url(), package, network, &key, PathBuf::from("data"))
        };
        let path = dir.join("atoma-node.toml");
        config.write(&path).unwrap();
        path
    }

    /// Registers node `i` (a process) and starts it.
    fn add_node(&mut self, i: usize, adversary: Option<Adversary>, crash_at: Option<&str>) -> Address {
        let config = self.config(i, adversary);
        let out = Command::new(env!("CARGO_BIN_EXE_atoma-node"))
            .arg("--config")
            .arg(&config)
            .arg("register")
            .output()
            .unwrap();
        assert!(out.status.success(), "register: {}", String::from_utf8_lossy(&out.stderr));
        let id: Address = String::from_utf8(out.stdout).unwrap().trim().parse().unwrap();
        self.spawn(i, crash_at);
        id
    }

    fn spawn(&mut self, i: usize, crash_at: Option<&str>) {
        let dir = self.dir.path().join(format!("node{i}"));
        let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("node.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_atoma-node"));
        cmd.arg("--config").arg(dir.join("atoma-node.toml")).arg("run");
        cmd.env("OMP_WAIT_POLICY", "PASSIVE").stdout(Stdio::null()).stderr(log);
        if let Some(step) = crash_at {
            cmd.env("ATOMA_NODE_CRASH_AT", step);
        }
        self.nodes.push(cmd.spawn().unwrap());
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{i}/node.log"))).unwrap_or_default()
    }

    async fn client(&self) -> Client {
        let (package, network) = self.net.node().with_ledger(|c| (c.identity.package, c.identity.network_id));
        Client::connect(&self.net.url(), package, network, self.keys[0].clone()).await.unwrap()
    }
}

fn input(prompt: &str) -> InputSpec {
    InputSpec::Bytes(serde_json::to_vec(&serde_json::json!({ "prompt": prompt, "max_tokens": 8 })).unwrap())
}

fn spec(prompt: &str, mode: Mode) -> RequestSpec {
    RequestSpec { timeout_ms: 20_000, ..RequestSpec::new("tiny-gpt", input(prompt), mode) }
}

/// Every event of the package so far, from the local network's checkpoints.
fn all_events(net: &Localnet) -> Vec<Event> {
    net.node().with_ledger(|c| {
        let mut out = Vec::new();
        for cp in &c.checkpoints {
            for d in &cp.transactions {
                for e in c.txs[d].events.iter().flat_map(|e| e.0.iter()) {
                    if let Some(Ok(ev)) = Event::from_bcs(e.type_.name().as_str(), &e.contents) {
                        out.push(ev);
                    }
                }
            }
        }
        out
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn honest_nodes_serve_every_mode_and_report_metrics() {
    let mut net = Net::start(4).await;
    for i in 1..=4 {
        net.add_node(i, None, None);
    }
    let client = net.client().await;
    let mut digests = Vec::new();
    for mode in
        [Mode::Sampling { n: 3 }, Mode::CrossValidation { p_bps: 10_000, n: 1 }, Mode::Sealed { p_bps: 10_000, n: 1 }]
    {
        let handle = client.submit(spec("The quick brown fox", mode)).await.unwrap();
        let (first, attestation) = tokio::join!(handle.first_output_within(WAIT), handle.finality_within(WAIT));
        let (first, attestation) = (first.unwrap(), attestation.unwrap());
        atoma_sdk::verify(&first.output, &attestation).unwrap();
        assert!(attestation.verified(), "{mode:?}: {:?}", attestation.outcome);
        assert_eq!(first.output.len(), 8 * 4, "eight tokens as u32");
        digests.push(first.output_digest);
    }
    // The same prompt (greedy) gives the same output whatever the mode and the nodes.
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    // Health and metrics of a node.
    let (port, _) = net.ports[&1];
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health")).await.unwrap().text().await.unwrap();
    assert_eq!(health, "ok");
    // Summed over the nodes: the draws decide which nodes served which request.
    let mut texts = Vec::new();
    for i in 1..=4 {
        let url = format!("http://127.0.0.1:{}/metrics", net.ports[&i].1);
        texts.push(reqwest::get(url).await.unwrap().text().await.unwrap());
    }
    for name in [
        "atoma_node_requests_assigned_total",
        "atoma_node_requests_committed_total",
        "atoma_node_inference_seconds_count",
    ] {
        let value: f64 = texts
            .iter()
            .map(|text| {
                text.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().last())
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
            })
            .sum();
        // Three requests, each run and committed by two nodes at least.
        assert!(value >= 6.0, "{name} = {value}");
    }
    // An output is served only to its requester.
    let other = atoma_sdk::http::sign_output_request(&net.keys[1], &Address::from_static("0x1")).unwrap();
    let status = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/outputs/0x1"))
        .header(atoma_sdk::http::REQUESTER_SIGNATURE, other)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404, "an unknown request");
}

/// `nodes` nodes, one misbehaving; Sampling requests of `n` until one samples
/// the misbehaving node. The others then replace it, or form the dispute
/// quorum (a disagreement of two needs 2 + 5 nodes).
async fn adversary_case(behaviour: Adversary, expected: SlashReason, nodes: usize, n: u64) {
    let mut net = Net::start(nodes).await;
    let bad = net.add_node(1, Some(behaviour), None);
    for i in 2..=nodes {
        net.add_node(i, None, None);
    }
    let client = net.client().await;
    // Each draw samples it with probability n / nodes (at least 2/7): 60 draws
    // all miss it less than once in 10^8 runs.
    let mut attempt = 0;
    let handle = loop {
        attempt += 1;
        let handle = client.submit(spec(&format!("case {behaviour:?} {attempt}"), Mode::Sampling { n })).await.unwrap();
        if handle.executors().contains(&bad) {
            break handle;
        }
        assert!(attempt < 60, "{behaviour:?}: the misbehaving node was not sampled in 60 requests");
    };
    // The requester asks for the first output at once, as a dApp would: a node
    // that serves without committing (silent) must not hold it back.
    let (first, attestation) =
        tokio::join!(handle.first_output_within(Duration::from_secs(60)), handle.finality_within(WAIT));
    let attestation = attestation.unwrap();
    let Outcome::Finalized { nodes, .. } = &attestation.outcome else {
        panic!("{behaviour:?}: {:?}\n{}", attestation.outcome, net.log(1))
    };
    assert!(!nodes.contains(&bad), "{behaviour:?}: the misbehaving node is not among the winners");
    let first = first.unwrap_or_else(|e| panic!("{behaviour:?}: no first output: {e}"));
    if first.node != bad {
        atoma_sdk::verify(&first.output, &attestation).unwrap();
    }
    let slashes: Vec<SlashReason> = all_events(&net.net)
        .into_iter()
        .filter_map(|e| match e {
            Event::NodeSlashed(s) if Address::from(s.node_id) == bad => Some(s.reason),
            _ => None,
        })
        .collect();
    assert_eq!(slashes, vec![expected], "{behaviour:?}");
    // Registered with the bare minimum, the slashed node falls below it and says so.
    assert_reported_ineligible(&net, 1, behaviour).await;
}

/// Waits until node `i` reports, in its metrics and its log, that it is out
/// of sampling because its collateral fell below the class minimum.
async fn assert_reported_ineligible(net: &Net, i: usize, behaviour: Adversary) {
    let metrics = net.ports[&i].1;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = match reqwest::get(format!("http://127.0.0.1:{metrics}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let value = |name: &str| -> Option<f64> {
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(name))
                .and_then(|l| l.split_whitespace().last())
                .and_then(|v| v.parse().ok())
        };
        if value("atoma_node_eligible") == Some(0.0)
            && value("atoma_node_collateral_shortfall_mist").is_some_and(|s| s > 0.0)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{behaviour:?}: the node never reported it is not eligible:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = net.log(i);
    assert!(log.contains("collateral is below the class minimum"), "{behaviour:?}: no warning in the log:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_output_loses_the_dispute_and_its_stake() {
    adversary_case(Adversary::WrongOutput, SlashReason::WrongOutput, 7, 2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lazy_copier_cannot_open_the_commitment_it_copied() {
    adversary_case(Adversary::LazyCopy, SlashReason::Withheld, 5, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_node_is_slashed_for_timeout_and_replaced() {
    adversary_case(Adversary::Silent, SlashReason::Timeout, 5, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reveal_after_the_deadline_and_its_grace_counts_as_withheld() {
    adversary_case(Adversary::LateReveal, SlashReason::Withheld, 5, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_salt_that_does_not_open_the_commitment_counts_as_withheld() {
    adversary_case(Adversary::WrongSalt, SlashReason::Withheld, 5, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn committing_and_withholding_loses_the_stake() {
    adversary_case(Adversary::Withhold, SlashReason::Withheld, 5, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_at_any_step_recovers_and_commits_once() {
    for step in ["after-output", "after-commit", "before-reveal"] {
        let mut net = Net::start(3).await;
        let crashing = net.add_node(1, None, Some(step));
        net.add_node(2, None, None);
        net.add_node(3, None, None);
        let client = net.client().await;
        let handle = client.submit(spec(&format!("crash {step}"), Mode::Sampling { n: 3 })).await.unwrap();
        // The node aborts at the step; it is started again, without the crash.
        let deadline = std::time::Instant::now() + WAIT;
        while net.nodes[0].try_wait().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "{step}: the node did not crash");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        net.nodes.remove(0).wait().unwrap();
        net.spawn(1, None);
        let attestation = handle.finality_within(WAIT).await.unwrap();
        let Outcome::Finalized { nodes, .. } = &attestation.outcome else {
            panic!("{step}: {:?}", attestation.outcome)
        };
        assert!(nodes.contains(&crashing), "{step}: the restarted node is among the winners\n{}", net.log(1));
        let commits = all_events(&net.net)
            .into_iter()
            .filter(|e| matches!(e, Event::Committed(c) if Address::from(c.node_id) == crashing))
            .count();
        assert_eq!(commits, 1, "{step}: one commitment, never a second one");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_input_is_an_error_output_the_nodes_agree_on() {
    let mut net = Net::start(2).await;
    net.add_node(1, None, None);
    net.add_node(2, None, None);
    let client = net.client().await;
    let bad = RequestSpec {
        timeout_ms: 7_000,
        ..RequestSpec::new("tiny-gpt", InputSpec::Bytes(b"hello world".to_vec()), Mode::Sampling { n: 2 })
    };
    let handle = client.submit(bad).await.unwrap();
    let (first, attestation) = tokio::join!(handle.first_output_within(WAIT), handle.finality_within(WAIT));
    let (first, attestation) = (first.unwrap(), attestation.unwrap());
    let Outcome::Finalized { nodes, verified, .. } = &attestation.outcome else { panic!("{:?}", attestation.outcome) };
    assert!(*verified && nodes.len() == 2, "both nodes agree on the refusal");
    atoma_sdk::verify(&first.output, &attestation).unwrap();
    let refusal = atoma_protocol::output::ErrorOutput::from_bytes(&first.output).expect("an error output");
    assert_eq!(refusal.code, "invalid_json");
    assert!(!all_events(&net.net).iter().any(|e| matches!(e, Event::NodeSlashed(_))));
    let log = net.log(1);
    assert_eq!(log.matches("computed").count(), 1, "computed once:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_decline_a_model_they_do_not_serve_and_nobody_is_slashed() {
    // The class lists a model no node has installed yet (the admin added it
    // before the operators installed it): every node drafted for it declines
    // at once, its seat is refilled, and the request fails without a slash.
    let digest = format!("0x{}", "ab".repeat(32));
    let mut net = Net::start_with(3, |g| g.with_model("not-installed", &digest, CLASS, 1_000)).await;
    for i in 1..=3 {
        net.add_node(i, None, None);
    }
    let client = net.client().await;
    let unserved =
        RequestSpec { timeout_ms: 20_000, ..RequestSpec::new("not-installed", input("hi"), Mode::Sampling { n: 2 }) };
    let handle = client.submit(unserved).await.unwrap();
    let attestation = handle.finality_within(WAIT).await.unwrap();
    let Outcome::Failed { reason, refund } = attestation.outcome else { panic!("{:?}", attestation.outcome) };
    assert_eq!(reason, atoma_protocol::FailReason::Timeout, "a seat stayed empty");
    let events = all_events(&net.net);
    let fee = events.iter().find_map(|e| match e {
        Event::RequestSubmitted(s) if s.model_id == "not-installed" => Some(s.fee),
        _ => None,
    });
    assert_eq!(Some(refund), fee, "the requester gets the whole fee back: no node could serve it");
    // The nodes drafted first declined and none committed; a node drafted
    // in a refill declines too, unless the other seat's decline ended the
    // request first (no fresh node left to refill it).
    let mut drafted = std::collections::BTreeSet::new();
    let mut declined = std::collections::BTreeSet::new();
    for e in &events {
        match e {
            Event::NodesSelected(s) => drafted.extend(s.nodes.iter().copied()),
            Event::Declined(d) => assert!(declined.insert(d.node_id), "{:?} declined twice", d.node_id),
            Event::Committed(c) => panic!("{:?} committed a model it does not serve", c.node_id),
            _ => {}
        }
    }
    assert!(declined.len() >= 2 && declined.is_subset(&drafted), "drafted {drafted:?}, declined {declined:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::NodeSlashed(_))), "{events:?}");
    assert!(net.log(1).contains("declined") || net.log(2).contains("declined") || net.log(3).contains("declined"));
    // The same nodes still serve the model they have.
    let served = client.submit(spec("after the decline", Mode::Sampling { n: 2 })).await.unwrap();
    assert!(matches!(served.finality_within(WAIT).await.unwrap().outcome, Outcome::Finalized { .. }));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_profile_differs_from_its_class_refuses_to_register_and_to_start() {
    let mut net = Net::start(1).await;
    let config = net.config(0, None);
    let profile =
        |threads: usize, dtype: Dtype| ClassProfile { name: CLASS.into(), threads, dtype, ..ClassProfile::cpu_test() };
    let node = |command: &str| {
        Command::new(env!("CARGO_BIN_EXE_atoma-node")).arg("--config").arg(&config).arg(command).output().unwrap()
    };
    // Another thread count, then another dtype: refused before anything is staked, naming the field.
    net.config_in(0, None, profile(2, Dtype::F32));
    let out = node("register");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("class.threads is \"2\", the class pins \"1\""), "{stderr}");
    net.config_in(0, None, profile(1, Dtype::Bf16));
    let out = node("register");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("class.dtype is \"bf16\", the class pins \"f32\""), "{stderr}");
    let chain = net.client().await.chain().clone();
    assert_eq!(chain.classes().await.unwrap()[0].1.active.size, 0, "nothing was registered");

    // Registered with the class's profile, then started with another: the service refuses to start.
    net.config_in(0, None, profile(1, Dtype::F32));
    let out = node("register");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    net.config_in(0, None, profile(4, Dtype::F32));
    let mut run = Command::new(env!("CARGO_BIN_EXE_atoma-node"))
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while run.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            run.kill().unwrap();
            panic!("a node with another thread count than its class's started");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("class.threads is \"4\", the class pins \"1\""), "{stderr}");
}
