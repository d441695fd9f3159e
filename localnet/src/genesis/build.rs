//! Building the chain from a genesis configuration: the protocol state, the
//! objects, and the one genesis transaction in checkpoint 0.

use std::collections::HashMap;

use anyhow::Context;
use atoma_protocol::{AdminCap, ObjectId, Params, State};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{
    Address, Digest, ExecutionStatus, GasCostSummary, GasPayment, GenesisObject, GenesisTransaction, Identifier,
    Object, Owner, Transaction, TransactionEffects, TransactionEffectsV2, TransactionExpiration, TransactionKind,
};

use super::{DEFAULT_PACKAGE, GenesisConfig};
use crate::execute::effects;
use crate::ledger::{Identity, Ledger, ObjectStore, TxRecord};
use crate::objects::Builder;

/// Builds the chain at genesis: objects, protocol state, the genesis
/// transaction and checkpoint 0 at `timestamp_ms`, with randomness from `seed`.
pub fn build(config: &GenesisConfig, seed: [u8; 32], timestamp_ms: u64) -> anyhow::Result<Ledger> {
    let package = config.package.unwrap_or(DEFAULT_PACKAGE);
    let b = Builder { package };
    // Ids of genesis objects derive from the seed, as a transaction's from its digest.
    let id_base =
        Digest::new(atoma_protocol::commitment::blake2b256(&[b"atoma-localnet/genesis".as_slice(), &seed].concat()).0);
    let mut next = 0u64;
    let mut new_id = || {
        next += 1;
        Address::derive_id(id_base, next - 1)
    };
    let network_id = new_id();
    let admin_cap_id = new_id();
    let tables = [new_id(), new_id()].map(ObjectId::from);
    let random_inner = new_id();
    let (state, admin_cap, events) = genesis_state(config, network_id, admin_cap_id, &mut new_id)?;

    let mut genesis_objects = vec![
        b.clock(timestamp_ms, VERSION),
        b.random(random_inner, VERSION),
        b.network(&state.network, tables, VERSION, VERSION),
        b.admin_cap(admin_cap, VERSION, config.admin),
    ];
    genesis_objects.extend(state.classes.values().map(|c| b.class(c, VERSION, VERSION)));
    genesis_objects.extend(funded_coins(config, &b, &seed, &mut new_id)?);
    let record = genesis_record(&b, genesis_objects, &events, timestamp_ms);

    let mut store = ObjectStore::default();
    for o in &record.output_objects {
        store.put(o.clone());
    }
    let mut chain = Ledger {
        identity: Identity {
            package,
            network_id,
            network_initial_version: VERSION,
            admin_cap_id,
            network_tables: tables,
            random_initial_version: VERSION,
            reference_gas_price: config.reference_gas_price,
            random_seed: seed,
        },
        state,
        objects: store,
        txs: Default::default(),
        checkpoints: Vec::new(),
        pending: Vec::new(),
        last_time_ms: timestamp_ms,
        epoch_gas: GasCostSummary::new(0, 0, 0, 0),
        total_transactions: 0,
    };
    chain.record(record.transaction.digest(), record);
    chain.seal_checkpoint(timestamp_ms);
    Ok(chain)
}

/// The version of every genesis object.
const VERSION: u64 = 1;

/// The protocol state at genesis: the network, its classes and models, and
/// the events that created them.
fn genesis_state(
    config: &GenesisConfig,
    network_id: Address,
    admin_cap_id: Address,
    new_id: &mut impl FnMut() -> Address,
) -> anyhow::Result<(State, AdminCap, Vec<atoma_protocol::Event>)> {
    let params = config.params.apply(Params::default());
    let (mut state, admin_cap, out) =
        State::create_network(ObjectId::from(network_id), ObjectId::from(admin_cap_id), params).context("params")?;
    let mut events = out.events;
    let mut class_objects = HashMap::new();
    for (i, c) in config.classes.iter().enumerate() {
        let object = ObjectId::from(new_id());
        let (_, out) = state
            .add_hardware_class(&admin_cap, object, &c.name, &c.profile, c.min_collateral, c.task_lock)
            .with_context(|| format!("classes[{i}]"))?;
        class_objects.insert(c.name.clone(), object);
        events.extend(out.events);
    }
    for (i, m) in config.models.iter().enumerate() {
        let digest = atoma_protocol::Digest::from_hex(&m.weight_digest).context("weight_digest")?;
        let out = state
            .add_model(&admin_cap, &class_objects[&m.class], &m.id, &digest.0, m.max_run_ms)
            .with_context(|| format!("models[{i}]"))?;
        events.extend(out.events);
    }
    Ok((state, admin_cap, events))
}

/// The funded accounts' coins (each balance split evenly, the first coin
/// taking the remainder) and the faucet's.
fn funded_coins(
    config: &GenesisConfig,
    b: &Builder,
    seed: &[u8; 32],
    new_id: &mut impl FnMut() -> Address,
) -> anyhow::Result<Vec<Object>> {
    let mut coins_out = Vec::new();
    for (address, balance, coins) in config.funded()? {
        for k in 0..coins {
            let share = balance / coins + if k == 0 { balance % coins } else { 0 };
            coins_out.push(b.coin(new_id(), share, VERSION, Owner::Address(address)));
        }
    }
    if config.faucet_balance > 0 {
        let faucet = faucet_key(seed).public_key().derive_address();
        coins_out.push(b.coin(new_id(), config.faucet_balance, VERSION, Owner::Address(faucet)));
    }
    Ok(coins_out)
}

/// The genesis transaction's record: it creates every object and emits the
/// events of creating the network, with effects computed as execution's are.
fn genesis_record(
    b: &Builder,
    genesis_objects: Vec<Object>,
    events: &[atoma_protocol::Event],
    timestamp_ms: u64,
) -> TxRecord {
    let transaction = Transaction {
        kind: TransactionKind::Genesis(GenesisTransaction {
            objects: genesis_objects.iter().map(|o| GenesisObject::new(o.data().clone(), *o.owner())).collect(),
        }),
        sender: Address::ZERO,
        gas_payment: GasPayment { objects: Vec::new(), owner: Address::ZERO, price: 0, budget: 0 },
        expiration: TransactionExpiration::None,
    };
    let digest = transaction.digest();
    // Every object records the storage it occupies, as on Sui (whose storage
    // fund holds the genesis objects' rebates), so that rewriting one costs
    // its sender only the non-refundable share.
    let written = effects::finish_objects(genesis_objects, digest);
    let events = effects::sui_events(b, Identifier::from_static("network"), Address::ZERO, events);
    let changed = effects::changed_objects(&[], &written, &Default::default());
    let effects = TransactionEffects::V2(Box::new(TransactionEffectsV2 {
        status: ExecutionStatus::Success,
        epoch: 0,
        gas_used: GasCostSummary::new(0, 0, 0, 0),
        transaction_digest: digest,
        gas_object_index: None,
        events_digest: events.as_ref().map(|e| e.digest()),
        dependencies: Vec::new(),
        lamport_version: VERSION,
        changed_objects: changed,
        unchanged_consensus_objects: Vec::new(),
        auxiliary_data_digest: None,
    }));
    TxRecord {
        transaction,
        signatures: Vec::new(),
        effects,
        events,
        timestamp_ms,
        checkpoint: None,
        input_objects: Vec::new(),
        output_objects: written,
    }
}

/// The key of the faucet's account (see `faucet`), from the network's
/// random seed: genesis funds it, the faucet signs with it.
pub fn faucet_key(seed: &[u8; 32]) -> Ed25519PrivateKey {
    Ed25519PrivateKey::new(
        atoma_protocol::commitment::blake2b256(&[b"atoma-localnet/faucet".as_slice(), seed].concat()).0,
    )
}
