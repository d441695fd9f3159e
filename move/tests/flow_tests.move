/// Whole request flows for every mode, with exact balances and SUI conservation.
#[test_only]
module atoma::flow_tests;

use atoma::test_utils::{Self as tu, out};

#[test]
fun sampling_agreement_finalizes_and_splits_the_fee() {
    let mut s = tu::setup(5);
    let start = 5 * tu::min_collateral() + tu::fee();
    let req = tu::submit_sampling(&mut s, 3);
    let members = tu::members(&mut s, req);
    assert!(members.length() == 3);
    tu::play_round(&mut s, req, out(b"A"));
    assert!(tu::inspect!(&mut s, req, |r| r.is_finalized()));
    assert!(tu::inspect!(&mut s, req, |r| r.output_digest()) == option::some(out(b"A")));
    members.do_ref!(|n| {
        let owner = tu::owner_of(&mut s, *n);
        assert!(tu::coins_of(&mut s, owner) == tu::fee() / 3);
        assert!(tu::collateral(&mut s, *n) == tu::min_collateral());
    });
    assert!(tu::total_sui(&mut s, req, 5) == start);
    tu::assert_all_unlocked(&mut s, 5);
    s.end();
}
