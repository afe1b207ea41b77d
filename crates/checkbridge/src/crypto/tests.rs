use proptest::prelude::*;

use super::*;
use crate::domain::ids::TenantKey;

proptest! {
    #[test]
    fn sealed_values_open_only_with_their_key_and_place(
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        aad in "[a-z|]{1,40}",
        other_aad in "[a-z|]{1,40}",
        flip in any::<usize>(),
    ) {
        let key = Key::random();
        let sealed = seal_with(&key, aad.as_bytes(), &plaintext);
        let opened = open_with(&key, aad.as_bytes(), &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        if other_aad != aad {
            prop_assert!(open_with(&key, other_aad.as_bytes(), &sealed).is_err(), "other place");
        }
        prop_assert!(open_with(&Key::random(), aad.as_bytes(), &sealed).is_err(), "other key");
        // Any changed byte of the sealed value fails to open.
        let mut bytes = sealed.clone().into_bytes();
        let i = 3 + flip % (bytes.len() - 3);
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).unwrap();
        if changed != sealed {
            prop_assert!(open_with(&key, aad.as_bytes(), &changed).is_err(), "changed byte");
        }
    }
}

#[test]
fn master_keys_parse_and_say_what_is_wrong() {
    let a = Key::random();
    let b = Key::random();
    let spec = format!(
        "k2:{}, k1:{}",
        a.to_base64().as_str(),
        b.to_base64().as_str()
    );
    let keys = MasterKeys::parse(&spec).unwrap();
    assert_eq!(keys.active_id(), "k2");
    assert!(format!("{keys:?}").contains("<redacted>"));
    assert!(!format!("{keys:?}").contains(a.to_base64().as_str()));
    for bad in [
        "",
        "nocolon",
        "k:notbase64!",
        "k:AAAA",
        &format!("k:{0},k:{0}", a.to_base64().as_str()),
    ] {
        assert!(
            matches!(MasterKeys::parse(bad), Err(CryptoError::MasterKey(_))),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn fields_are_bound_to_their_place_keys_rotate_and_shredding_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/k.db", dir.path().display()))
        .await
        .unwrap();
    let old = format!("old:{}", Key::random().to_base64().as_str());
    let ring = Keyring::new(MasterKeys::parse(&old).unwrap(), store.clone());
    let acme = TenantKey::from("acme");
    let place = Place {
        tenant: &acme,
        table: "checks",
        column: "order_json",
        row: "c1",
    };
    let sealed = ring.seal(place, b"123-45-6789").await.unwrap();
    assert!(!sealed.contains("123-45-6789"));
    assert_eq!(
        ring.open(place, &sealed).await.unwrap().as_slice(),
        b"123-45-6789"
    );
    for moved in [
        Place { row: "c2", ..place },
        Place {
            column: "webhook_secret",
            ..place
        },
        Place {
            table: "searches",
            ..place
        },
    ] {
        assert!(ring.open(moved, &sealed).await.is_err(), "{moved:?}");
    }
    // Another tenant has another key: the same value sealed for it differs and does not cross.
    let globex_key = TenantKey::from("globex");
    let globex = Place {
        tenant: &globex_key,
        ..place
    };
    assert!(ring.open(globex, &sealed).await.is_err());

    // Rotation: a new active master key re-wraps the data keys; old values still open.
    let new = format!("new:{}", Key::random().to_base64().as_str());
    let rotated = Keyring::new(
        MasterKeys::parse(&format!("{new},{old}")).unwrap(),
        store.clone(),
    );
    assert_eq!(rotated.rewrap_all().await.unwrap(), 1);
    assert_eq!(rotated.rewrap_all().await.unwrap(), 0, "done once");
    let only_new = Keyring::new(MasterKeys::parse(&new).unwrap(), store.clone());
    assert_eq!(
        only_new.open(place, &sealed).await.unwrap().as_slice(),
        b"123-45-6789"
    );
    let only_old = Keyring::new(MasterKeys::parse(&old).unwrap(), store.clone());
    assert!(matches!(
        only_old.open(place, &sealed).await,
        Err(CryptoError::UnknownMasterKey(_))
    ));

    // Crypto-shredding: once the tenant's keys are destroyed nothing of it opens.
    assert_eq!(
        store
            .destroy_data_keys(&TenantKey::from("acme"))
            .await
            .unwrap(),
        1
    );
    // No `forget`: the cached key is refused because the database says it is destroyed.
    assert!(matches!(
        only_new.open(place, &sealed).await,
        Err(CryptoError::NoDataKey(1))
    ));
}
