use time::macros::date;

use super::*;

const TODAY: Date = date!(2026 - 05 - 15);

fn post(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn personal() -> Vec<(String, String)> {
    post(&[
        ("first_name", "Thị Minh"),
        ("middle_name", ""),
        ("last_name", "Nguyễn"),
        ("other_name", "Minh Tran"),
        ("other_name", ""),
        ("date_of_birth", "1990-04-25"),
        ("ssn", "123-45-6789"),
        ("ssn_confirm", "123456789"),
    ])
}

fn personal_errors(pairs: &[(String, String)]) -> Errors {
    match personal_step(pairs, TODAY, None) {
        Outcome::Invalid { errors, .. } => errors,
        Outcome::Valid(_) => panic!("accepted"),
        Outcome::Edit(_) => panic!("edit"),
    }
}

#[test]
fn good_personal_details_are_accepted_and_the_ssn_normalised() {
    let Outcome::Valid(p) = personal_step(&personal(), TODAY, None) else {
        panic!("refused");
    };
    assert_eq!(p.name.full(), "Thị Minh Nguyễn");
    assert_eq!(p.other_names, vec!["Minh Tran".to_owned()]);
    assert_eq!(p.ssn.expose(), "123-45-6789");
    assert_eq!(p.ssn.masked(), "***-**-6789");
    assert_eq!(p.date_of_birth.expose(), "1990-04-25");
}

#[test]
fn debug_of_personal_data_is_redacted() {
    let Outcome::Valid(p) = personal_step(&personal(), TODAY, None) else {
        panic!("refused");
    };
    for text in [
        format!("{p:?}"),
        format!("{:?}", p.ssn),
        format!("{:?}", p.date_of_birth),
        format!("{:?}", p.name),
    ] {
        assert!(text.contains("[REDACTED]"), "{text}");
        for secret in ["6789", "1990", "Nguyễn"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

#[test]
fn malformed_ssns_are_refused_with_the_format() {
    for bad in [
        "12345678",
        "123-456-789",
        "123 45 6789",
        "abc-de-fghi",
        "1234567890",
        "123-45-678a",
    ] {
        let e = personal_errors(&set(personal(), "ssn", bad));
        assert!(e.get("ssn").unwrap().contains("9 digits"), "{bad}: {e:?}");
    }
    for never in [
        "000-12-3456",
        "666-12-3456",
        "912-34-5678",
        "123-00-4567",
        "123-45-0000",
    ] {
        let e = personal_errors(&set(personal(), "ssn", never));
        assert!(e.get("ssn").unwrap().contains("not a number"), "{never}");
    }
}

#[test]
fn mismatched_or_missing_ssn_confirmation_is_refused() {
    let e = personal_errors(&set(personal(), "ssn_confirm", "123-45-6780"));
    assert!(e.get("ssn_confirm").unwrap().contains("not the same"));
    let e = personal_errors(&set(personal(), "ssn_confirm", ""));
    assert!(e.get("ssn_confirm").unwrap().contains("second time"));
    let mut fields = set(personal(), "ssn", "");
    fields.retain(|(k, _)| k != "ssn_confirm");
    let e = personal_errors(&fields);
    assert!(e.get("ssn").unwrap().contains("Enter your Social Security"));
}

#[test]
fn the_ssn_is_never_echoed_back() {
    let pairs = set(personal(), "last_name", "");
    let Outcome::Invalid { form, errors } = personal_step(&pairs, TODAY, None) else {
        panic!("accepted");
    };
    assert!(errors.get("last_name").is_some());
    let json = serde_json::to_string(&form).unwrap();
    assert!(!json.contains("6789") && !json.contains("123"), "{json}");
}

#[test]
fn an_ssn_on_file_is_kept_when_both_fields_are_blank() {
    let kept = Ssn::parse("222-33-4444").unwrap();
    let fields = set(set(personal(), "ssn", ""), "ssn_confirm", "");
    let Outcome::Valid(p) = personal_step(&fields, TODAY, Some(&kept)) else {
        panic!("refused");
    };
    assert_eq!(p.ssn.masked(), "***-**-4444");
}

#[test]
fn malformed_future_and_absurd_birth_dates_are_refused() {
    for (bad, says) in [
        ("25/04/1990", "year-month-day"),
        ("1990-4-25", "year-month-day"),
        ("1990-02-30", "year-month-day"),
        ("2027-01-01", "future"),
        ("2026-05-16", "future"),
        ("2013-01-01", "younger than 14"),
        ("1900-01-01", "older than 120"),
        ("", "Enter your date of birth"),
    ] {
        let e = personal_errors(&set(personal(), "date_of_birth", bad));
        let msg = e.get("date_of_birth").unwrap_or_default();
        assert!(msg.contains(says), "{bad}: {msg}");
    }
    // Exactly 14 today is old enough.
    let ok = set(personal(), "date_of_birth", "2012-05-15");
    assert!(matches!(personal_step(&ok, TODAY, None), Outcome::Valid(_)));
}

#[test]
fn oversized_fields_and_posts_are_refused() {
    let long = "a".repeat(101);
    let mut fields = personal();
    fields[0].1 = long.clone();
    let e = personal_errors(&fields);
    assert!(
        e.get("first_name").unwrap().contains("at most 100"),
        "{e:?}"
    );

    let mut fields = personal();
    fields.push(("padding".to_owned(), "x".repeat(MAX_POST_BYTES)));
    let e = personal_errors(&fields);
    assert!(e.get("form").unwrap().contains("too large"));

    let mut fields = personal();
    fields.extend((0..12).map(|i| ("other_name".to_owned(), format!("Name {i}"))));
    let e = personal_errors(&fields);
    assert!(e.get("other_name_0").unwrap().contains("at most 10"));

    let e = personal_errors(&set(personal(), "first_name", "Ann\nMarie"));
    assert!(e.get("first_name").unwrap().contains("one line"));
}

#[test]
fn html_in_a_field_is_kept_as_text() {
    let fields = set(personal(), "last_name", "<script>alert(1)</script>");
    let Outcome::Valid(p) = personal_step(&fields, TODAY, None) else {
        panic!("refused");
    };
    assert_eq!(p.name.last, "<script>alert(1)</script>");
}

#[test]
fn other_name_rows_are_added_and_removed_without_validation() {
    let mut fields = set(personal(), "ssn", "bad");
    fields.push(("action".to_owned(), "add-other-name".to_owned()));
    let Outcome::Edit(form) = personal_step(&fields, TODAY, None) else {
        panic!("not an edit");
    };
    assert_eq!(form.other_names, vec!["Minh Tran", "", ""]);
    let mut fields = personal();
    fields.push(("action".to_owned(), "remove-other-name-0".to_owned()));
    let Outcome::Edit(form) = personal_step(&fields, TODAY, None) else {
        panic!("not an edit");
    };
    assert_eq!(form.other_names, vec![""]);
}

// --- addresses

fn address(
    i: usize,
    street: &str,
    state: &str,
    zip: &str,
    from: &str,
    to: &str,
) -> Vec<(String, String)> {
    let k = |f: &str| format!("addr_{i}_{f}");
    vec![
        (k("street"), street.to_owned()),
        (k("street2"), String::new()),
        (
            k("city"),
            if street.is_empty() { "" } else { "Austin" }.to_owned(),
        ),
        (k("state"), state.to_owned()),
        (k("zip"), zip.to_owned()),
        (k("from"), from.to_owned()),
        (k("to"), to.to_owned()),
    ]
}

fn good_addresses() -> Vec<(String, String)> {
    let mut v = vec![
        ("addr_rows".to_owned(), "3".to_owned()),
        ("current".to_owned(), "0".to_owned()),
    ];
    v.extend(address(0, "1 Main St", "TX", "78701", "2021-06", ""));
    v.extend(address(
        1,
        "2 Oak Ave",
        "ca",
        "941071234",
        "2015-01",
        "2021-05",
    ));
    v.extend(address(2, "", "", "", "", ""));
    v
}

fn set(mut v: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    for p in &mut v {
        if p.0 == key {
            p.1 = value.to_owned();
        }
    }
    v
}

fn address_errors(pairs: &[(String, String)]) -> Errors {
    match addresses_step(pairs, TODAY, &FormRules::default()) {
        Outcome::Invalid { errors, .. } => errors,
        Outcome::Valid(_) => panic!("accepted"),
        Outcome::Edit(_) => panic!("edit"),
    }
}

#[test]
fn good_addresses_are_accepted_and_normalised() {
    let a = match addresses_step(&good_addresses(), TODAY, &FormRules::default()) {
        Outcome::Valid(a) => a,
        Outcome::Invalid { errors, .. } => panic!("refused: {errors:?}"),
        Outcome::Edit(_) => panic!("edit"),
    };
    assert_eq!(a.current.street, "1 Main St");
    assert_eq!(a.current.to, None);
    assert_eq!(a.previous.len(), 1);
    assert_eq!(a.previous[0].state.code(), "CA");
    assert_eq!(a.previous[0].zip.as_str(), "94107-1234");
    assert_eq!(a.previous[0].from.first_day(), "2015-01-01");
    assert_eq!(a.previous[0].to.unwrap().last_day(), "2021-05-31");
}

#[test]
fn zero_or_two_current_addresses_are_refused() {
    let mut none = good_addresses();
    none.retain(|(k, _)| k != "current");
    let e = address_errors(&none);
    assert!(e.get("current").unwrap().contains("Choose which"));

    let mut two = set(good_addresses(), "addr_1_to", "");
    two.push(("current".to_owned(), "1".to_owned()));
    let e = address_errors(&two);
    assert!(e.get("current").unwrap().contains("only one"), "{e:?}");

    let blank_current = set(good_addresses(), "current", "2");
    let e = address_errors(&blank_current);
    assert!(e.get("current").unwrap().contains("empty"), "{e:?}");
}

#[test]
fn bad_states_zips_and_months_are_refused_on_their_fields() {
    let e = address_errors(&set(good_addresses(), "addr_0_state", "XX"));
    assert!(e.get("addr_0_state").unwrap().contains("US state"));
    for zip in ["1234", "123456", "12345-678", "ABCDE"] {
        let e = address_errors(&set(good_addresses(), "addr_0_zip", zip));
        assert!(e.get("addr_0_zip").unwrap().contains("5 digits"), "{zip}");
    }
    for month in ["2021/06", "2021-13", "21-06", "June 2021"] {
        let e = address_errors(&set(good_addresses(), "addr_0_from", month));
        assert!(
            e.get("addr_0_from").unwrap().contains("year-month"),
            "{month}"
        );
    }
    let e = address_errors(&set(good_addresses(), "addr_0_from", "2027-01"));
    assert!(e.get("addr_0_from").unwrap().contains("future"));
    let e = address_errors(&set(good_addresses(), "addr_0_to", "2024-01"));
    assert!(e
        .get("addr_0_to")
        .unwrap()
        .contains("empty for your current"));
    let e = address_errors(&set(good_addresses(), "addr_1_to", ""));
    assert!(e.get("addr_1_to").unwrap().contains("moved out"));
}

#[test]
fn an_end_before_the_start_is_refused() {
    let e = address_errors(&set(good_addresses(), "addr_1_to", "2014-12"));
    assert!(
        e.get("addr_1_to").unwrap().contains("before the start"),
        "{e:?}"
    );
}

#[test]
fn addresses_must_reach_back_the_configured_years_without_long_gaps() {
    let short = set(good_addresses(), "addr_1_from", "2020-01");
    let e = address_errors(&short);
    assert!(
        e.get("coverage").unwrap().contains("back to 2019-05"),
        "{e:?}"
    );
    // Three years asked: fine.
    let rules = FormRules {
        address_years: 3,
        ..FormRules::default()
    };
    assert!(matches!(
        addresses_step(&short, TODAY, &rules),
        Outcome::Valid(_)
    ));

    // A gap of 4 months (2021-02..2021-05) is reported; 3 months is allowed.
    let gap = set(good_addresses(), "addr_1_to", "2021-01");
    let e = address_errors(&gap);
    assert!(
        e.get("coverage").unwrap().contains("2021-02 to 2021-05"),
        "{e:?}"
    );
    let small = set(good_addresses(), "addr_1_to", "2021-02");
    assert!(matches!(
        addresses_step(&small, TODAY, &FormRules::default()),
        Outcome::Valid(_)
    ));
    let lenient = FormRules {
        max_gap_months: None,
        ..FormRules::default()
    };
    assert!(matches!(
        addresses_step(&gap, TODAY, &lenient),
        Outcome::Valid(_)
    ));
}

#[test]
fn oversized_address_fields_and_too_many_rows_are_refused() {
    let e = address_errors(&set(good_addresses(), "addr_0_street", &"s".repeat(201)));
    assert!(e.get("addr_0_street").unwrap().contains("at most 200"));
    let e = address_errors(&set(good_addresses(), "addr_rows", "21"));
    assert!(e.get("form").unwrap().contains("at most 20"));
}

#[test]
fn address_rows_are_added_and_removed() {
    let mut add = good_addresses();
    add.push(("action".to_owned(), "add-address".to_owned()));
    let Outcome::Edit(form) = addresses_step(&add, TODAY, &FormRules::default()) else {
        panic!("not an edit");
    };
    assert_eq!(form.rows.len(), 4);
    let mut remove = set(good_addresses(), "current", "1");
    remove.push(("action".to_owned(), "remove-addr-0".to_owned()));
    let Outcome::Edit(form) = addresses_step(&remove, TODAY, &FormRules::default()) else {
        panic!("not an edit");
    };
    assert_eq!(form.rows.len(), 2);
    assert_eq!(form.rows[0].street, "2 Oak Ave");
    assert_eq!(form.current, Some(0), "the current mark follows its row");
}

// --- history

fn good_history() -> Vec<(String, String)> {
    post(&[
        ("emp_rows", "2"),
        ("emp_0_employer", "Acme <b>Corp</b>"),
        ("emp_0_position", "Accountant"),
        ("emp_0_city", "Austin"),
        ("emp_0_state", "TX"),
        ("emp_0_start", "2019-02"),
        ("emp_0_end", ""),
        ("emp_0_current", "yes"),
        ("emp_1_employer", ""),
        ("edu_rows", "1"),
        ("edu_0_school", "University of Texas"),
        ("edu_0_degree", "BBA"),
        ("edu_0_major", "Accounting"),
        ("edu_0_start", "2014-09"),
        ("edu_0_end", "2018-05"),
    ])
}

fn history_errors(pairs: &[(String, String)]) -> Errors {
    match history_step(pairs, TODAY, &HistoryRules::default()) {
        Outcome::Invalid { errors, .. } => errors,
        Outcome::Valid(_) => panic!("accepted"),
        Outcome::Edit(_) => panic!("edit"),
    }
}

#[test]
fn good_history_is_accepted() {
    let Outcome::Valid(h) = history_step(&good_history(), TODAY, &HistoryRules::default()) else {
        panic!("refused");
    };
    assert_eq!(h.employment.len(), 1);
    assert_eq!(h.employment[0].employer, "Acme <b>Corp</b>");
    assert_eq!(h.employment[0].end, None);
    assert_eq!(h.education[0].end.to_string(), "2018-05");
}

#[test]
fn history_dates_and_missing_fields_are_refused() {
    let e = history_errors(&set(good_history(), "edu_0_end", "2013-01"));
    assert!(e.get("edu_0_end").unwrap().contains("before the start"));
    let e = history_errors(&set(good_history(), "emp_0_current", "no"));
    assert!(e.get("emp_0_end").unwrap().contains("month you left"));
    let e = history_errors(&set(good_history(), "emp_0_end", "2020-01"));
    assert!(e.get("emp_0_end").unwrap().contains("still have"));
    let e = history_errors(&set(good_history(), "emp_0_start", "2019-2"));
    assert!(e.get("emp_0_start").unwrap().contains("year-month"));
    let e = history_errors(&set(good_history(), "edu_0_major", ""));
    assert!(e.get("edu_0_major").unwrap().contains("Enter the major"));
    let e = history_errors(&set(good_history(), "emp_0_position", &"p".repeat(101)));
    assert!(e.get("emp_0_position").unwrap().contains("at most 100"));
    let e = history_errors(&set(good_history(), "edu_rows", "11"));
    assert!(e.get("form").unwrap().contains("at most 10"));
}

#[test]
fn required_histories_must_have_an_entry() {
    let empty = post(&[("emp_rows", "1"), ("edu_rows", "1")]);
    let rules = HistoryRules {
        employment: true,
        education: true,
    };
    let Outcome::Invalid { errors, .. } = history_step(&empty, TODAY, &rules) else {
        panic!("accepted");
    };
    assert!(errors.get("emp_0_employer").is_some() && errors.get("edu_0_school").is_some());
    assert!(matches!(
        history_step(&empty, TODAY, &HistoryRules::default()),
        Outcome::Valid(h) if h.employment.is_empty()
    ));
}

#[test]
fn history_is_prefilled_from_what_pageup_sent_and_rows_are_edited() {
    let form = HistoryForm::prefill(
        &[EmploymentRow {
            employer: "Acme".to_owned(),
            position: "Clerk".to_owned(),
            start: "2019-02-01".to_owned(),
            end: "2023-06-30".to_owned(),
            ..EmploymentRow::default()
        }],
        &[],
    );
    assert_eq!(form.employment.len(), 2, "one blank row to add a job");
    assert_eq!(form.employment[0].start, "2019-02");
    assert_eq!(form.employment[0].end, "2023-06");
    assert_eq!(form.education.len(), 1);

    let mut add = good_history();
    add.push(("action".to_owned(), "add-education".to_owned()));
    let Outcome::Edit(f) = history_step(&add, TODAY, &HistoryRules::default()) else {
        panic!("not an edit");
    };
    assert_eq!(f.education.len(), 2);
    let mut remove = good_history();
    remove.push(("action".to_owned(), "remove-emp-0".to_owned()));
    let Outcome::Edit(f) = history_step(&remove, TODAY, &HistoryRules::default()) else {
        panic!("not an edit");
    };
    assert_eq!(f.employment.len(), 1);
    assert_eq!(f.employment[0].employer, "");
}

// --- disclosure and authorization

#[test]
fn the_disclosure_is_acknowledged_with_the_digest_of_its_text() {
    let Outcome::Valid(ack) = disclosure_step(&post(&[("acknowledge", "yes")]), "text") else {
        panic!("refused");
    };
    assert_eq!(ack.text_sha256, sha256_hex("text"));
    assert_eq!(ack.text_sha256.len(), 64);
    assert!(matches!(
        disclosure_step(&post(&[]), "text"),
        Outcome::Invalid { errors, .. } if errors.get("acknowledge").is_some()
    ));
}

fn name() -> LegalName {
    LegalName {
        first: "Łukasz".to_owned(),
        middle: Some("J.".to_owned()),
        last: "Żółć".to_owned(),
    }
}

#[test]
fn a_signature_matching_the_name_with_consent_is_accepted() {
    for typed in ["Łukasz J. Żółć", "  łukasz   j żółć ", "ŁUKASZ ŻÓŁĆ"] {
        let pairs = post(&[("signature", typed), ("consent", "yes")]);
        let Outcome::Valid(s) = authorization_step(&pairs, &name(), TODAY) else {
            panic!("refused {typed}");
        };
        assert_eq!(s.signed_on, TODAY);
    }
}

#[test]
fn a_signature_not_matching_the_name_is_refused() {
    for typed in ["Lukasz Zolc", "Łukasz", "Someone Else", ""] {
        let pairs = post(&[("signature", typed), ("consent", "yes")]);
        let Outcome::Invalid { errors, .. } = authorization_step(&pairs, &name(), TODAY) else {
            panic!("accepted {typed}");
        };
        assert!(errors.get("signature").is_some(), "{typed}");
        assert!(errors.get("consent").is_none());
    }
}

#[test]
fn unchecked_consent_is_refused() {
    let pairs = post(&[("signature", "Łukasz Żółć")]);
    let Outcome::Invalid { errors, form } = authorization_step(&pairs, &name(), TODAY) else {
        panic!("accepted");
    };
    assert!(errors.get("consent").unwrap().contains("Tick the box"));
    assert_eq!(form.signature, "Łukasz Żółć", "the typed name comes back");
}

#[test]
fn states_are_the_real_list() {
    assert_eq!(UsState::parse("tx").map(|s| s.code()), Some("TX"));
    assert_eq!(
        UsState::parse("DC").map(|s| s.name()),
        Some("District of Columbia")
    );
    for bad in ["XX", "T", "TEX", "", "UK"] {
        assert!(UsState::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(US_STATES.len(), 59);
}
