//! The operator's commands on the chain: register, add collateral, change
//! the endpoint, leave, withdraw, and check the served models.

use anyhow::{Context, bail};
use atoma_executor::manifest::{Checkpoint, ModelManifest};
use atoma_executor::node::config::Config;
use atoma_sdk::http::hex;

use super::{check_endpoint, connect, duration_words, node_id, now_ms, open_db};

/// Adds `amount` MIST to the node's collateral.
pub(super) async fn add_collateral(config: &Config, amount: u64) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn?)"))?;
    if amount == 0 {
        bail!("the amount must be positive");
    }
    let executed = chain.add_collateral(id, amount).await?;
    let class = chain.class(node.class_id).await?;
    let total = node.collateral + amount;
    println!("{total}");
    eprintln!(
        "added {amount} MIST: collateral {total} MIST, class minimum {} (transaction {})",
        class.min_collateral, executed.digest
    );
    Ok(())
}

/// Changes the URL the node serves outputs at (default: the configured one).
pub(super) async fn set_endpoint(config: &Config, url: Option<String>, allow_unroutable: bool) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let url = url.unwrap_or_else(|| config.endpoint());
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 256 {
        bail!("the endpoint must be an http(s) URL of at most 256 bytes, got {url}");
    }
    check_endpoint(&url, config, allow_unroutable)?;
    let chain = connect(config).await?;
    let executed = chain.set_endpoint(id, &url).await?;
    println!("{url}");
    eprintln!("node {id} now serves outputs at {url} (transaction {})", executed.digest);
    Ok(())
}

/// Asks to leave: no new tasks; the collateral comes back after the unbonding delay.
pub(super) async fn leave(config: &Config) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn?)"))?;
    if node.leaving() {
        bail!("node {id} is leaving already; `atoma-node withdraw` once the unbonding delay has passed");
    }
    let executed = chain.request_leave(id).await?;
    // The exit the chain fixed now, whatever the unbonding delay becomes later.
    let at = executed
        .events
        .iter()
        .find_map(|e| match e {
            atoma_protocol::Event::NodeLeaving(l) => Some(l.withdraw_after_ms),
            _ => None,
        })
        .context("the transaction emitted no NodeLeaving event")?;
    println!("leaving (transaction {})", executed.digest);
    eprintln!(
        "no new tasks from now; `atoma-node withdraw` takes the collateral back in {} (at {at} ms since the epoch, \
         fixed now), once open tasks ({}) have settled; keep the node running until then",
        duration_words(at.saturating_sub(now_ms())),
        node.open_tasks
    );
    Ok(())
}

/// Takes the collateral back once the unbonding delay has passed and no task is open.
pub(super) async fn withdraw(config: &Config) -> anyhow::Result<()> {
    let id = node_id(config).await?;
    let chain = connect(config).await?;
    let node = chain.node(id).await?.with_context(|| format!("node {id} is not registered (withdrawn already?)"))?;
    let Some(at) = node.withdraw_after_ms else {
        bail!("node {id} has not asked to leave: run `atoma-node leave` first, then wait the unbonding delay");
    };
    let now = now_ms();
    if now < at {
        bail!(
            "the unbonding delay has not passed: withdrawal is possible in {} (at {} ms since the epoch, by the chain's clock)",
            duration_words(at - now),
            at
        );
    }
    if node.open_tasks > 0 {
        bail!("node {id} has {} open task(s): keep `atoma-node run` going until they settle", node.open_tasks);
    }
    let executed = chain.withdraw(id).await?;
    println!("withdrawn {} MIST (transaction {})", node.collateral, executed.digest);
    eprintln!("this data directory can register a new node with `atoma-node register`");
    Ok(())
}

/// Checks every served model's files against its manifest and the chain.
pub(super) async fn verify_models(config: &Config) -> anyhow::Result<()> {
    let chain = connect(config).await?;
    let on_chain = chain.models().await?;
    let mut bad = 0;
    for path in &config.models {
        let manifest = ModelManifest::read(path)?;
        let chain_digest = on_chain.iter().find(|(id, _)| *id == manifest.id).map(|(_, m)| m.weight_digest);
        match (chain_digest, manifest.verify(chain_digest.as_ref())) {
            (None, _) => {
                bad += 1;
                println!("{}: not registered on this network", manifest.id);
            }
            (Some(_), Ok(d)) => {
                println!(
                    "{}: every file matches the manifest, model digest {} matches the chain",
                    manifest.id,
                    hex(&d.0)
                )
            }
            (Some(_), Err(e)) => {
                bad += 1;
                println!("{}: {}", manifest.id, atoma_sdk::error::report(&e));
            }
        }
    }
    if bad > 0 {
        bail!("{bad} model(s) cannot be served");
    }
    Ok(())
}

/// Registers the node in its class with its collateral, after checking the
/// class, the models, the endpoint and the balance before any gas is spent.
pub(super) async fn register(config: &Config, collateral: Option<u64>, allow_unroutable: bool) -> anyhow::Result<()> {
    let db = open_db(config)?;
    let chain = connect(config).await?;
    if let Some(id) = db.node_cap()? {
        if chain.node(id).await?.is_some() {
            bail!("this data directory belongs to node {id}, which is registered: `atoma-node status` shows it");
        }
        eprintln!("node {id} of this data directory withdrew; registering a new node");
    }
    let classes = chain.classes().await?;
    let Some((class_id, class)) = classes.iter().find(|(_, c)| c.name == config.class.name) else {
        let names: Vec<&str> = classes.iter().map(|(_, c)| c.name.as_str()).collect();
        bail!(
            "class {} (class.name) is not registered on this network; registered: {}",
            config.class.name,
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    };
    // Refuse before staking: a node that runs another profile than its
    // class's would disagree with honest nodes and be slashed.
    config.class.check_chain_profile(&class.profile)?;
    let on_chain = chain.models().await?;
    for path in &config.models {
        let manifest = ModelManifest::read(path)?;
        let Some((_, model)) = on_chain.iter().find(|(id, _)| *id == manifest.id) else {
            let known: Vec<&str> =
                on_chain.iter().filter(|(_, m)| m.class_id == *class_id).map(|(id, _)| id.as_str()).collect();
            bail!(
                "model {} ({}) is not registered on this network; models of class {}: {}",
                manifest.id,
                path.display(),
                class.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            );
        };
        if model.class_id != *class_id {
            bail!("model {} belongs to class {}, not to this node's class {}", manifest.id, model.class_id, class_id);
        }
        if model.weight_digest != manifest.digest() {
            bail!(
                "model {}: the manifest's digest {} differs from the chain's {}",
                manifest.id,
                hex(&manifest.digest().0),
                hex(&model.weight_digest.0)
            );
        }
    }
    let endpoint = config.endpoint();
    check_endpoint(&endpoint, config, allow_unroutable)?;
    let public_key = chain.key().public_key();
    if public_key.len() != 32 {
        bail!("the node's key must be Ed25519 (it signs served outputs)");
    }
    let amount = collateral.unwrap_or(class.min_collateral);
    if amount < class.min_collateral {
        bail!("--collateral {amount} is below class {}'s minimum of {} MIST", class.name, class.min_collateral);
    }
    let balance = chain.balance().await?;
    if balance < amount {
        bail!("{} holds {balance} MIST, less than the collateral of {amount} MIST (and gas)", chain.sender());
    }
    if amount < class.min_collateral.saturating_add(class.task_lock) {
        eprintln!(
            "note: staking {amount} MIST, the class minimum is {}: a slash would take the node out of sampling \
             until `atoma-node add-collateral` (--collateral sets more)",
            class.min_collateral
        );
    }
    let start = chain.checkpoint_height().await?;
    let (id, executed) = chain.register_node(*class_id, amount, &endpoint, &public_key).await?;
    db.forget_node()?;
    db.set_node_cap(&id)?;
    db.set_start_checkpoint(start)?;
    println!("{id}");
    eprintln!(
        "registered node {id} in class {} with {amount} MIST at {endpoint} (transaction {})",
        class.name, executed.digest
    );
    Ok(())
}
