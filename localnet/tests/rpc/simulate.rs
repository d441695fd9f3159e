//! Transaction simulation and the Move package service.

use atoma_localnet::Options;
use atoma_protocol::ProtocolError;
use atoma_protocol::commitment::blake2b256;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::Address;

use crate::common::*;
use crate::support::*;

/// An input the client left unresolved: an object id only.
fn by_id(id: Address) -> proto::Input {
    let mut input = proto::Input::default();
    input.object_id = Some(id.to_string());
    input
}

fn pure_input(bytes: Vec<u8>) -> proto::Input {
    let mut input = proto::Input::default();
    input.kind = Some(proto::input::InputKind::Pure as i32);
    input.pure = Some(bytes.into());
    input
}

/// A transaction as the Sui TypeScript SDK sends it to be resolved: the
/// sender, inputs by id, no gas.
fn unresolved(sender: Address, inputs: Vec<proto::Input>, commands: Vec<sui_sdk_types::Command>) -> proto::Transaction {
    let mut ptb = proto::ProgrammableTransaction::default();
    ptb.inputs = inputs;
    ptb.commands = commands.into_iter().map(proto::Command::from).collect();
    let mut kind = proto::TransactionKind::default();
    kind.kind = Some(proto::transaction_kind::Kind::ProgrammableTransaction as i32);
    kind.data = Some(proto::transaction_kind::Data::ProgrammableTransaction(ptb));
    let mut tx = proto::Transaction::default();
    tx.sender = Some(sender.to_string());
    tx.kind = Some(kind);
    tx
}

async fn simulate(
    client: &mut sui_rpc::Client,
    tx: proto::Transaction,
) -> Result<proto::ExecutedTransaction, tonic::Status> {
    let mut request = proto::SimulateTransactionRequest::default();
    request.transaction = Some(tx);
    request.do_gas_selection = Some(true);
    request.read_mask = Some(FieldMask::from_paths([
        "transaction.transaction",
        "transaction.effects",
        "transaction.events",
        "transaction.balance_changes",
    ]));
    let response = client.execution_client().simulate_transaction(request).await?;
    Ok(response.into_inner().transaction.expect("a simulated transaction"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simulation_resolves_inputs_and_gas_runs_the_transaction_and_writes_nothing() {
    use sui_sdk_types::{Argument, Command, SplitCoins, TransferObjects};
    let accounts = accounts(2);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let (network, class) = (net.node().with_ledger(|c| c.identity.network_id), class_object(&net, 0));
    let transactions = net.node().with_ledger(|c| c.total_transactions);

    // A submission with every object by id: the Network is read, the class written.
    let inputs = vec![
        by_id(network),
        by_id(class),
        pure_input(bcs::to_bytes("tiny").unwrap()),
        pure_input(bcs::to_bytes(&blake2b256(b"hi").0.to_vec()).unwrap()),
        pure_input(bcs::to_bytes(&b"hi".to_vec()).unwrap()),
        pure_input(bcs::to_bytes(&Option::<String>::None).unwrap()),
        pure_input(bcs::to_bytes(&60_000u64).unwrap()),
        pure_input(bcs::to_bytes(&1u64).unwrap()),
        pure_input(bcs::to_bytes(&1_000_000u64).unwrap()),
        by_id(Address::from_static("0x8")),
        by_id(Address::from_static("0x6")),
    ];
    let split = Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(8)] });
    let call = sui_sdk_types::MoveCall {
        package: PACKAGE,
        module: sui_sdk_types::Identifier::from_static("request"),
        function: sui_sdk_types::Identifier::from_static("submit_sampling"),
        type_arguments: vec![],
        arguments: (0..8)
            .map(Argument::Input)
            .chain([Argument::NestedResult(0, 0)])
            .chain([9, 10].map(Argument::Input))
            .collect(),
    };
    let simulated =
        simulate(&mut client, unresolved(accounts[1].address, inputs, vec![split, Command::MoveCall(call)]))
            .await
            .expect("simulated");
    let resolved = sui_sdk_types::Transaction::try_from(simulated.transaction.as_ref().unwrap()).expect("resolved");
    let sui_sdk_types::TransactionKind::ProgrammableTransaction(ptb) = &resolved.kind else { panic!() };
    let shared = |i: usize| match &ptb.inputs[i] {
        sui_sdk_types::Input::Shared(s) => (s.object_id(), s.mutability() == sui_sdk_types::Mutability::Mutable),
        other => panic!("input {i} is {other:?}"),
    };
    assert_eq!(shared(0), (network, false), "the Network is read only by submissions");
    assert_eq!(shared(1), (class, true));
    assert!(!shared(9).1 && !shared(10).1, "Random and the Clock are read");
    assert_eq!(resolved.gas_payment.owner, accounts[1].address);
    assert!(!resolved.gas_payment.objects.is_empty() && resolved.gas_payment.budget > 0);
    assert_eq!(resolved.gas_payment.price, 1_000);
    // No node is registered: the submission would abort, and the simulation says so.
    assert_eq!(
        abort_code(&simulated).and_then(atoma_protocol::error::decode_abort_code),
        Some(ProtocolError::NotEnoughNodes)
    );

    // A payment: it succeeds, shows its balance changes, and the resolved
    // transaction, signed, executes as simulated.
    let amount = pure_input(bcs::to_bytes(&5_000u64).unwrap());
    let to = pure_input(bcs::to_bytes(&accounts[0].address).unwrap());
    let commands = vec![
        Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] }),
        Command::TransferObjects(TransferObjects {
            objects: vec![Argument::NestedResult(0, 0)],
            address: Argument::Input(1),
        }),
    ];
    let simulated = simulate(&mut client, unresolved(accounts[1].address, vec![amount, to], commands)).await.unwrap();
    assert!(succeeded(&simulated), "{simulated:?}");
    assert!(
        simulated
            .balance_changes
            .iter()
            .any(|b| b.address.as_deref() == Some(&accounts[0].address.to_string())
                && b.amount.as_deref() == Some("5000"))
    );
    assert_eq!(net.node().with_ledger(|c| c.total_transactions), transactions, "a simulation writes nothing");
    let resolved = sui_sdk_types::Transaction::try_from(simulated.transaction.as_ref().unwrap()).unwrap();
    let executed = execute_signed(&mut client, &resolved, sign(&resolved, &accounts[1])).await.expect("executes");
    assert!(succeeded(&executed));
    assert_eq!(
        executed.effects.as_ref().unwrap().gas_used,
        simulated.effects.as_ref().unwrap().gas_used,
        "the simulation charged what execution charges"
    );

    // Nothing to pay with: the error names the sender.
    let poor = Address::from_static("0x1234");
    let err = simulate(
        &mut client,
        unresolved(
            poor,
            vec![pure_input(bcs::to_bytes(&1u64).unwrap())],
            vec![Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] })],
        ),
    )
    .await
    .unwrap_err();
    assert!(err.message().contains(&poor.to_string()), "{err}");
    // An unknown object is named.
    let err = simulate(&mut client, unresolved(accounts[1].address, vec![by_id(poor)], vec![])).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_package_service_describes_functions_and_datatypes_from_the_move_sources() {
    let accounts = accounts(1);
    let net = start(&genesis(&accounts), Options::default()).await;
    let mut client = client(&net);
    let mut packages = client.package_client();
    let function = |module: &str, name: &str| {
        let mut r = proto::GetFunctionRequest::default();
        r.package_id = Some(PACKAGE.to_string());
        r.module_name = Some(module.into());
        r.name = Some(name.into());
        r
    };
    let submit =
        packages.get_function(function("request", "submit_sampling")).await.unwrap().into_inner().function.unwrap();
    assert_eq!(submit.is_entry, Some(true));
    let params: Vec<(Option<i32>, String)> = submit
        .parameters
        .iter()
        .map(|p| (p.reference, p.body.as_ref().unwrap().type_name.clone().unwrap_or_default()))
        .collect();
    use proto::open_signature::Reference::{Immutable, Mutable};
    assert_eq!(params[0], (Some(Immutable as i32), format!("{PACKAGE}::network::Network")));
    assert_eq!(params[1], (Some(Mutable as i32), format!("{PACKAGE}::hardware::HardwareClass")));
    assert!(params[8].1.ends_with("::coin::Coin"), "{params:?}");
    assert!(params.last().unwrap().1.ends_with("::tx_context::TxContext"), "{params:?}");
    // Every function the local network runs is described, with as many
    // parameters as it checks (and the trailing TxContext, when there is one).
    for (module, name, checked) in atoma_localnet::execute::signatures::FUNCTIONS {
        let f = packages.get_function(function(module, name)).await.unwrap().into_inner().function.unwrap();
        let described = f.parameters.len()
            - usize::from(f.parameters.last().is_some_and(|p| {
                p.body
                    .as_ref()
                    .and_then(|b| b.type_name.as_deref())
                    .is_some_and(|t| t.ends_with("::tx_context::TxContext"))
            }));
        assert_eq!(described, checked.len(), "{module}::{name}");
    }
    let err = packages.get_function(function("request", "nope")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let mut r = proto::GetDatatypeRequest::default();
    r.package_id = Some(PACKAGE.to_string());
    r.module_name = Some("network".into());
    r.name = Some("Network".into());
    let network = packages.get_datatype(r).await.unwrap().into_inner().datatype.unwrap();
    let fields: Vec<&str> = network.fields.iter().map(|f| f.name.as_deref().unwrap()).collect();
    assert_eq!(fields, ["id", "version", "params", "classes", "next_class_id", "models", "treasury"]);
    assert_eq!(network.abilities, [proto::Ability::Key as i32]);

    let mut r = proto::GetPackageRequest::default();
    r.package_id = Some(PACKAGE.to_string());
    let package = packages.get_package(r).await.unwrap().into_inner().package.unwrap();
    let types = package.modules.iter().find(|m| m.name.as_deref() == Some("types")).unwrap();
    let mode = types.datatypes.iter().find(|d| d.name.as_deref() == Some("Mode")).unwrap();
    let variants: Vec<&str> = mode.variants.iter().map(|v| v.name.as_deref().unwrap()).collect();
    assert_eq!(variants, ["Sampling", "CrossValidation", "Sealed"]);
}
