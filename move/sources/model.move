/// A model that requests may name: the digest of its weight file, which
/// executors check before serving it, the hardware class it runs on, and its
/// run-time bound on that class, which every commit timeout of its requests
/// covers (docs/protocol.md, "Time").
module atoma::model;

public struct Model has copy, drop, store {
    weight_digest: vector<u8>,
    class_id: u64,
    /// The longest an honest node of the class takes to run it on any input (ms).
    max_run_ms: u64,
}

public(package) fun new(weight_digest: vector<u8>, class_id: u64, max_run_ms: u64): Model {
    Model { weight_digest, class_id, max_run_ms }
}

public fun weight_digest(model: &Model): vector<u8> { model.weight_digest }

public fun class_id(model: &Model): u64 { model.class_id }

public fun max_run_ms(model: &Model): u64 { model.max_run_ms }
