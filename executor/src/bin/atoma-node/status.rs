//! `atoma-node status`: the node's standing on chain and its database's
//! summary (read from the running node when it holds the database); the
//! summary alone, with "chain unreachable", when the chain does not answer.

use anyhow::{Context, bail};
use atoma_executor::node::config::Config;
use atoma_protocol::state::Standing;
use sui_sdk_types::Address;

use super::{connect, db_summary, duration_words, now_ms};

/// Prints the node's standing and its database's summary (`--json`: as JSON).
pub(super) async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let (summary, process) = db_summary(config).await?;
    let id: Address = match (config.node_cap, &summary.node) {
        (Some(id), _) => id,
        (None, Some(s)) => s.parse().context("the node id in the database")?,
        (None, None) => bail!("this node is not registered: run `atoma-node register` first"),
    };
    // The local state is shown whether or not the chain answers.
    let on_chain = async {
        let chain = connect(config).await?;
        let node = chain.node(id).await?;
        let class = match &node {
            Some(n) => Some(chain.class(n.class_id).await?),
            None => None,
        };
        anyhow::Ok((node, class))
    }
    .await;
    let (node, class, unreachable) = match on_chain {
        Ok((node, class)) => (node, class, None),
        Err(e) => (None, None, Some(format!("{e:#}"))),
    };
    let standing = node
        .as_ref()
        .zip(class.as_ref())
        .map(|(n, c)| Standing::of(n.leaving(), n.collateral, n.locked, c.min_collateral, c.task_lock));
    let withdraw_at = node.as_ref().and_then(|n| n.withdraw_after_ms);
    if json {
        let out = serde_json::json!({
            "node": id.to_string(),
            "process": process,
            "chain": if unreachable.is_some() { "unreachable" } else { "reachable" },
            "chain_error": unreachable,
            "registered": unreachable.is_none().then_some(node.is_some()),
            "class": class.as_ref().map(|c| c.name.clone()),
            "min_collateral": class.as_ref().map(|c| c.min_collateral),
            "collateral": node.as_ref().map(|n| n.collateral),
            "locked": node.as_ref().map(|n| n.locked),
            "standing": standing.map(standing_name),
            "shortfall": match standing { Some(Standing::BelowMinimum { short }) => short, _ => 0 },
            "open_tasks_on_chain": node.as_ref().map(|n| n.open_tasks),
            "completed": node.as_ref().map(|n| n.completed),
            "slashed": node.as_ref().map(|n| n.slashed),
            "withdraw_at_ms": withdraw_at,
            "endpoint": node.as_ref().map(|n| n.endpoint.clone()),
            "tasks": summary.tasks, "tasks_done": summary.tasks_done, "outbox": summary.outbox,
            "cursor": summary.cursor,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    match (&node, &class, standing) {
        _ if unreachable.is_some() => println!(
            "node {id} ({process}): chain unreachable, its standing is unknown ({})",
            unreachable.as_deref().unwrap_or_default()
        ),
        (Some(n), Some(c), Some(standing)) => {
            println!(
                "node {id} ({process}): class {}, collateral {} MIST (locked {}, class minimum {}), open tasks {}, completed {}, slashed {}",
                c.name, n.collateral, n.locked, c.min_collateral, n.open_tasks, n.completed, n.slashed
            );
            println!("  endpoint {}", n.endpoint);
            println!("  {}", standing_words(standing, withdraw_at));
        }
        _ => println!(
            "node {id} ({process}): not registered on chain (withdrawn?); `atoma-node register` registers a new one"
        ),
    }
    let cursor = summary
        .cursor
        .map_or("none yet".to_string(), |[c, t, e]| format!("checkpoint {c}, transaction {t}, event {e}"));
    println!(
        "  database: {} task(s), {} done, {} unconfirmed transaction(s), last event read at {cursor}",
        summary.tasks, summary.tasks_done, summary.outbox
    );
    Ok(())
}

/// The standing's name in `--json`.
fn standing_name(s: Standing) -> &'static str {
    match s {
        Standing::Eligible => "eligible",
        Standing::Leaving => "leaving",
        Standing::BelowMinimum { .. } => "below_minimum",
        Standing::FullyLocked => "fully_locked",
    }
}

/// What the standing means for new tasks, and what the operator can do.
fn standing_words(standing: Standing, withdraw_at: Option<u64>) -> String {
    match standing {
        Standing::Eligible => "eligible for new tasks".into(),
        Standing::BelowMinimum { short } => format!(
            "NOT eligible: collateral is {short} MIST below the class minimum; `atoma-node add-collateral {short}`"
        ),
        Standing::FullyLocked => "not eligible until open tasks settle (collateral fully locked)".into(),
        Standing::Leaving => match withdraw_at {
            Some(at) if at > now_ms() => {
                format!("leaving: `atoma-node withdraw` possible in {}", duration_words(at - now_ms()))
            }
            _ => "leaving: the unbonding delay has passed; `atoma-node withdraw` once no task is open".into(),
        },
    }
}
