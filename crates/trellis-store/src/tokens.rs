//! Bearer secrets (API keys, provider links): 256 random bits, shown once, stored only as a SHA-256 hash.
//!
//! A slow password hash is unnecessary here: the secrets are random, not chosen by people, so a hash of
//! them cannot be brute-forced.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new secret with the given prefix, and its hash for storage.
pub fn new_secret(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_only_their_hash_is_kept() {
        let (a, hash_a) = new_secret("trl_");
        let (b, _) = new_secret("trl_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash_secret(&a), hash_a);
        assert!(!hash_a.contains(&a[4..]));
    }
}
