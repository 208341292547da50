//! Conformance suites: one set of public async test functions per backend
//! trait, run here against the fakes and in `codeb-backends` against live
//! services, so every implementation keeps the same contract.
