//! Signing and sending: a call's programmable transaction, signed once,
//! sent (again) until the node answers, and its outcome read.

use super::decode::created_objects;
use super::*;

impl Chain {
    async fn object_ref(&self, id: Address) -> Result<ObjectReference> {
        if let Some(r) = self.cache.lock().expect("cache").refs.get(&id) {
            return Ok(r.clone());
        }
        let o = self.get_object(id, &["object_id", "version", "digest", "owner"]).await?;
        let r = reference(&o)?;
        self.cache.lock().expect("cache").refs.insert(id, r.clone());
        Ok(r)
    }

    async fn shared_version(&self, id: Address) -> Result<u64> {
        if id == self.identity.network {
            return Ok(self.identity.network_initial_version);
        }
        if let Some(v) = self.cache.lock().expect("cache").shared.get(&id) {
            return Ok(*v);
        }
        let o = self.get_object(id, &["owner"]).await?;
        let v = initial_shared_version(&o, id)?;
        self.cache.lock().expect("cache").shared.insert(id, v);
        Ok(v)
    }

    /// Builds, signs, executes one Move call and reads its outcome.
    pub async fn execute(&self, call: Call) -> Result<Executed> {
        self.execute_journaled(call, |_| Ok(())).await
    }

    /// As `execute`, handing the signed transaction to `journal` before it
    /// is sent, so that a caller that may crash can store it and send the
    /// same bytes again after a restart (`resend`) instead of signing
    /// another transaction over the same objects. An error from `journal`
    /// stops the call before anything is sent.
    pub async fn execute_journaled(&self, call: Call, journal: impl FnOnce(&Signed) -> Result<()>) -> Result<Executed> {
        // Before any object is locked or pending transaction settled.
        call.check()?;
        let mut owned: Vec<Address> = call
            .args
            .iter()
            .filter_map(|a| match a {
                Arg::Owned(id) => Some(*id),
                _ => None,
            })
            .collect();
        let payment: u64 = call.args.iter().map(|a| if let Arg::Payment(p) = a { *p } else { 0 }).sum();
        let _owned_guards = self.lock(&mut owned).await;
        for id in &owned {
            self.settle_pending(*id).await?;
        }
        let need = payment
            .checked_add(self.gas_budget)
            .ok_or_else(|| SdkError::InvalidArgument("payment too large".into()))?;
        let (gas, _gas_guards) = self.take_gas(need).await?;
        for id in &gas {
            self.settle_pending(*id).await?;
        }
        let signed = self.sign(&call, &gas).await?;
        journal(&signed)?;
        let used: Vec<Address> = owned.iter().chain(&gas).copied().collect();
        self.send_and_read(signed, &used).await
    }

    /// Sends a transaction signed earlier (read back from a journal) again,
    /// with its owned objects locked, and reads its outcome. A transaction
    /// that executed before returns its first outcome.
    pub async fn resend(&self, signed: Signed) -> Result<Executed> {
        let mut used = objects_of(&signed.transaction);
        let _guards = self.lock(&mut used).await;
        self.send_and_read(signed, &used).await
    }

    /// Pays `amount` MIST to `to`, split off the sender's gas coins.
    pub async fn transfer_sui(&self, to: Address, amount: u64) -> Result<Executed> {
        let need =
            amount.checked_add(self.gas_budget).ok_or_else(|| SdkError::InvalidArgument("amount too large".into()))?;
        let (gas, _gas_guards) = self.take_gas(need).await?;
        for id in &gas {
            self.settle_pending(*id).await?;
        }
        let mut tx = self.builder(&gas).await?;
        let gas_coin = tx.gas();
        let amount = tx.pure(&amount);
        let coin = tx.split_coins(gas_coin, vec![amount]).remove(0);
        let to = tx.pure(&to);
        tx.transfer_objects(vec![coin], to);
        let signed = self.finish(tx)?;
        self.send_and_read(signed, &gas).await
    }

    /// A transaction builder with the sender, gas price, budget and gas coins set.
    async fn builder(&self, gas: &[Address]) -> Result<TransactionBuilder> {
        let mut tx = TransactionBuilder::new();
        tx.set_sender(self.sender());
        tx.set_gas_price(self.gas_price);
        tx.set_gas_budget(self.gas_budget);
        let mut gas_inputs = Vec::with_capacity(gas.len());
        for id in gas {
            let r = self.object_ref(*id).await?;
            gas_inputs.push(ObjectInput::owned(*r.object_id(), r.version(), *r.digest()));
        }
        tx.add_gas_objects(gas_inputs);
        Ok(tx)
    }

    fn finish(&self, tx: TransactionBuilder) -> Result<Signed> {
        let transaction =
            tx.try_build().map_err(|e| SdkError::InvalidArgument(format!("building the transaction: {e}")))?;
        let signature = self.key.sign_transaction(&transaction)?;
        Ok(Signed { transaction, signature })
    }

    async fn sign(&self, call: &Call, gas: &[Address]) -> Result<Signed> {
        let mut tx = self.builder(gas).await?;
        let mut args: Vec<Argument> = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(match arg {
                Arg::Pure(value) => tx.pure_bytes(value.to_bcs()),
                Arg::Network => {
                    tx.object(ObjectInput::shared(self.identity.network, self.identity.network_initial_version, true))
                }
                Arg::NetworkRef => {
                    tx.object(ObjectInput::shared(self.identity.network, self.identity.network_initial_version, false))
                }
                Arg::Class(id) | Arg::Request(id) => {
                    let v = self.shared_version(*id).await?;
                    tx.object(ObjectInput::shared(*id, v, true))
                }
                Arg::ClassRef(id) => {
                    let v = self.shared_version(*id).await?;
                    tx.object(ObjectInput::shared(*id, v, false))
                }
                Arg::Owned(id) => {
                    let r = self.object_ref(*id).await?;
                    tx.object(ObjectInput::owned(*r.object_id(), r.version(), *r.digest()))
                }
                Arg::Clock => tx.object(ObjectInput::shared(CLOCK, 1, false)),
                Arg::Random => tx.object(ObjectInput::shared(RANDOM, self.identity.random_initial_version, false)),
                Arg::Payment(amount) => {
                    let gas = tx.gas();
                    let amount = tx.pure(amount);
                    tx.split_coins(gas, vec![amount]).remove(0)
                }
            });
        }
        let function = Function::new(
            self.identity.package,
            Identifier::new(call.module).map_err(|e| SdkError::InvalidArgument(e.to_string()))?,
            Identifier::new(call.function).map_err(|e| SdkError::InvalidArgument(e.to_string()))?,
        );
        tx.move_call(function, args);
        self.finish(tx)
    }

    /// Sends a transaction whose outcome was unknown again (or finds it
    /// executed) before `id` is used by anything else.
    async fn settle_pending(&self, id: Address) -> Result<()> {
        let pending = self.cache.lock().expect("cache").pending.get(&id).cloned();
        if let Some(signed) = pending {
            tracing::info!(digest = %signed.digest(), "sending a transaction of unknown outcome again");
            let used = objects_of(&signed.transaction);
            // Its outcome, whatever it is, settles the objects.
            match self.send_and_read(signed, &used).await {
                Ok(_)
                | Err(SdkError::Protocol { .. })
                | Err(SdkError::Congested { .. })
                | Err(SdkError::Execution { .. })
                | Err(SdkError::Rejected(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends the same signed bytes until the node answers, then updates the
    /// object cache from the effects.
    async fn send_and_read(&self, signed: Signed, used: &[Address]) -> Result<Executed> {
        let digest = signed.digest();
        let mut last_error = String::new();
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
            }
            let request = proto::ExecuteTransactionRequest::new(signed.transaction.clone().into())
                .with_signatures(vec![signed.signature.clone().into()])
                .with_read_mask(mask(&["digest", "effects", "events"]));
            match self.rpc.clone().execution_client().execute_transaction(request).await {
                Ok(response) => {
                    let mut cache = self.cache.lock().expect("cache");
                    for id in used {
                        cache.pending.remove(id);
                    }
                    drop(cache);
                    let executed = response
                        .into_inner()
                        .transaction
                        .ok_or_else(|| SdkError::decode(format!("the node returned no transaction for {digest}")))?;
                    return self.read_outcome(digest, executed);
                }
                Err(status) if is_transient(&status) => {
                    last_error = status.to_string();
                    continue;
                }
                Err(status) => {
                    // Refused before execution: nothing ran; forget cached references of these objects.
                    let mut cache = self.cache.lock().expect("cache");
                    for id in used {
                        cache.pending.remove(id);
                        cache.refs.remove(id);
                    }
                    if status.code() == tonic::Code::FailedPrecondition {
                        cache.coins.clear();
                    }
                    return Err(SdkError::Rejected(format!("{} ({:?})", status.message(), status.code())));
                }
            }
        }
        let mut cache = self.cache.lock().expect("cache");
        for id in used {
            cache.pending.insert(*id, signed.clone());
        }
        Err(SdkError::Unknown { digest, reason: last_error })
    }

    fn read_outcome(&self, digest: Digest, executed: proto::ExecutedTransaction) -> Result<Executed> {
        let effects_proto =
            executed.effects.as_ref().ok_or_else(|| SdkError::decode(format!("no effects for {digest}")))?;
        let effects = TransactionEffects::try_from(effects_proto)
            .map_err(|e| SdkError::decode(format!("effects of {digest} do not decode")).because(e))?;
        self.learn(&effects);
        match effects.status() {
            ExecutionStatus::Success => {}
            ExecutionStatus::Failure { error: ExecutionError::MoveAbort { code, .. }, .. } => {
                if let Some(error) = atoma_protocol::error::decode_abort_code(*code) {
                    return Err(SdkError::Protocol { error, digest });
                }
                return Err(SdkError::Execution { description: format!("Move abort with code {code}"), digest });
            }
            ExecutionStatus::Failure {
                error: ExecutionError::ExecutionCanceledDueToConsensusObjectCongestion { congested_objects },
                ..
            } => {
                return Err(SdkError::Congested { objects: congested_objects.clone(), digest });
            }
            ExecutionStatus::Failure { error, .. } => {
                let description = effects_proto
                    .status
                    .as_ref()
                    .and_then(|s| s.error.as_ref())
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| format!("{error:?}"));
                return Err(SdkError::Execution { description, digest });
            }
        }
        let events = decode_events(&self.identity.type_origin, executed.events.as_ref())?;
        let created = created_objects(&effects);
        Ok(Executed { digest, events, effects, created })
    }

    /// Updates cached references and coin balances from effects.
    fn learn(&self, effects: &TransactionEffects) {
        let TransactionEffects::V2(v2) = effects else { return };
        let mut cache = self.cache.lock().expect("cache");
        for change in &v2.changed_objects {
            match &change.output_state {
                sui_sdk_types::ObjectOut::ObjectWrite { digest, owner }
                    if *owner == sui_sdk_types::Owner::Address(self.key.address()) =>
                {
                    let r = ObjectReference::new(change.object_id, v2.lamport_version, *digest);
                    cache.refs.insert(change.object_id, r);
                }
                _ => {
                    cache.refs.remove(&change.object_id);
                    cache.coins.remove(&change.object_id);
                }
            }
        }
        // Balances changed: read them again when coins are next chosen.
        cache.coins.clear();
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Aborted
            | tonic::Code::ResourceExhausted
    )
}

/// The owned objects a transaction uses: its gas coins and owned inputs.
fn objects_of(tx: &Transaction) -> Vec<Address> {
    let owned = match &tx.kind {
        sui_sdk_types::TransactionKind::ProgrammableTransaction(p) => p
            .inputs
            .iter()
            .filter_map(|i| match i {
                sui_sdk_types::Input::ImmutableOrOwned(r) => Some(*r.object_id()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    tx.gas_payment.objects.iter().map(|r| *r.object_id()).chain(owned).collect()
}
