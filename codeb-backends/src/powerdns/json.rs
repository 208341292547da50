//! The PowerDNS API paths and JSON codeb sends and reads: pure functions of
//! validated input. Canonical names (with the trailing dot) are made here and
//! only here, from [`DomainName::to_fqdn`].

use std::net::{Ipv4Addr, Ipv6Addr};

use codeb::dns::{RecordData, RecordSet, RecordType, SrvRecord};
use codeb::model::{DomainName, Port};
use serde::Deserialize;
use serde_json::{Value, json};

/// The path of the zone collection of `server_id`.
pub fn zones_path(server_id: &str) -> String {
    format!("/api/v1/servers/{server_id}/zones")
}

/// The path of one zone (its id is its canonical name).
pub fn zone_path(server_id: &str, zone: &DomainName) -> String {
    format!("{}/{}", zones_path(server_id), zone.to_fqdn())
}

/// The SOA timers of a new zone: refresh, retry, expire and the negative-answer TTL, in seconds (RFC 1912's advice).
const SOA_TIMERS: &str = "10800 3600 604800 3600";

/// The body that creates `zone` as a Native zone, authoritative by its own
/// SOA (primary: the first of `nameservers`; contact: `hostmaster`) and NS
/// set, never PowerDNS's placeholder SOA. `nameservers` must not be empty.
pub fn new_zone(zone: &DomainName, nameservers: &[DomainName], hostmaster: &DomainName, ttl: u32) -> Value {
    let primary = nameservers.first().map(DomainName::to_fqdn).unwrap_or_default();
    let soa = format!("{primary} {} 1 {SOA_TIMERS}", hostmaster.to_fqdn());
    let rrset = |kind: &str, records: Vec<Value>| json!({ "name": zone.to_fqdn(), "type": kind, "ttl": ttl, "records": records });
    let ns = nameservers.iter().map(|ns| record(ns.to_fqdn())).collect();
    json!({ "name": zone.to_fqdn(), "kind": "Native", "nameservers": [], "rrsets": [rrset("SOA", vec![record(soa)]), rrset("NS", ns)] })
}

fn record(content: String) -> Value {
    json!({ "content": content, "disabled": false })
}

/// A TXT string in zone-file form: quoted, with `"` and `\` escaped and bytes
/// outside printable ASCII as `\DDD`.
pub fn quote_txt(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for byte in text.bytes() {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            b' '..=b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:03}")),
        }
    }
    out.push('"');
    out
}

/// Reads TXT record content back into its text: the character-strings
/// (quoted or bare) with escapes undone, concatenated. `None` when the
/// content is not well-formed or not UTF-8.
pub fn unquote_txt(content: &str) -> Option<String> {
    let bytes = content.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let quoted = bytes[i] == b'"';
        if quoted {
            i += 1;
        }
        loop {
            let Some(&b) = bytes.get(i) else {
                // An opened quote must close.
                return if quoted { None } else { String::from_utf8(out).ok() };
            };
            match b {
                b'"' if quoted => {
                    i += 1;
                    break;
                }
                b'"' => return None,
                c if !quoted && c.is_ascii_whitespace() => break,
                b'\\' => {
                    let digits = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
                    if let Some(digits) = digits {
                        let value = digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                        out.push(u8::try_from(value).ok()?);
                        i += 4;
                    } else {
                        out.push(*bytes.get(i + 1)?);
                        i += 2;
                    }
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The record contents of a set, as PowerDNS wants them.
pub fn contents(data: &RecordData) -> Vec<String> {
    match data {
        RecordData::A(ips) => ips.iter().map(ToString::to_string).collect(),
        RecordData::Aaaa(ips) => ips.iter().map(ToString::to_string).collect(),
        RecordData::Cname(target) => vec![target.to_fqdn()],
        RecordData::Txt(texts) => texts.iter().map(|t| quote_txt(t)).collect(),
        RecordData::Srv(records) => {
            records.iter().map(|r| format!("{} {} {} {}", r.priority, r.weight, r.port, r.target.to_fqdn())).collect()
        }
    }
}

/// An SRV record's content (`PRIORITY WEIGHT PORT TARGET.`), or `None` when
/// it is not one codeb can hold (a target that reads as an address among them).
fn srv_record(content: &str) -> Option<SrvRecord> {
    let fields: Vec<&str> = content.split_ascii_whitespace().collect();
    let [priority, weight, port, target] = fields.as_slice() else { return None };
    let record = SrvRecord {
        priority: priority.parse().ok()?,
        weight: weight.parse().ok()?,
        port: Port::new(port.parse().ok()?).ok()?,
        target: DomainName::parse(target).ok()?,
    };
    record.names_a_host().then_some(record)
}

/// The PATCH body that replaces every set in `sets`, all in one change.
pub fn replace_patch(sets: &[RecordSet]) -> Value {
    let rrsets: Vec<Value> = sets
        .iter()
        .map(|set| {
            json!({
                "name": set.name.to_fqdn(),
                "type": set.data.record_type().as_str(),
                "ttl": set.ttl,
                "changetype": "REPLACE",
                "records": contents(&set.data).into_iter().map(record).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "rrsets": rrsets })
}

/// The PATCH body that deletes the sets of the given names and types, all in one change.
pub fn delete_patch(keys: &[(DomainName, RecordType)]) -> Value {
    let rrsets: Vec<Value> = keys
        .iter()
        .map(|(name, rtype)| json!({ "name": name.to_fqdn(), "type": rtype.as_str(), "changetype": "DELETE" }))
        .collect();
    json!({ "rrsets": rrsets })
}

/// A zone as the API returns it; only the record sets matter here.
#[derive(Debug, Deserialize)]
pub struct Zone {
    /// Every record set of the zone.
    #[serde(default)]
    pub rrsets: Vec<RrSet>,
}

/// One record set as the API returns it.
#[derive(Debug, Deserialize)]
pub struct RrSet {
    /// The owner name, canonical.
    pub name: String,
    /// The type (`A`, `SOA`, ...).
    #[serde(rename = "type")]
    pub rtype: String,
    /// Time to live, in seconds.
    #[serde(default)]
    pub ttl: u32,
    /// The records.
    #[serde(default)]
    pub records: Vec<Record>,
}

/// One record as the API returns it.
#[derive(Debug, Deserialize)]
pub struct Record {
    /// The content in zone-file form.
    pub content: String,
    /// Disabled records are not served.
    #[serde(default)]
    pub disabled: bool,
}

/// The A, AAAA, CNAME, TXT and SRV sets of a zone, ordered by name and type.
///
/// Other types (SOA, NS, MX, ...), disabled records, and sets codeb's model
/// cannot hold (a name with `_`, an unparsable address) are left out: they
/// are not codeb's to manage.
pub fn record_sets(zone: &Zone) -> Vec<RecordSet> {
    let mut sets: Vec<RecordSet> = zone.rrsets.iter().filter_map(record_set).collect();
    sets.sort_by(|a, b| (&a.name, a.data.record_type()).cmp(&(&b.name, b.data.record_type())));
    sets
}

fn record_set(rrset: &RrSet) -> Option<RecordSet> {
    let name = DomainName::parse(&rrset.name).ok()?;
    let live: Vec<&str> = rrset.records.iter().filter(|r| !r.disabled).map(|r| r.content.as_str()).collect();
    if live.is_empty() {
        return None;
    }
    let data = match rrset.rtype.as_str() {
        "A" => RecordData::A(live.iter().map(|c| c.parse::<Ipv4Addr>().ok()).collect::<Option<_>>()?),
        "AAAA" => RecordData::Aaaa(live.iter().map(|c| c.parse::<Ipv6Addr>().ok()).collect::<Option<_>>()?),
        "CNAME" => match live.as_slice() {
            [target] => RecordData::Cname(DomainName::parse(target).ok()?),
            _ => return None,
        },
        "TXT" => RecordData::Txt(live.iter().map(|c| unquote_txt(c)).collect::<Option<_>>()?),
        "SRV" => RecordData::Srv(live.iter().map(|c| srv_record(c)).collect::<Option<_>>()?),
        _ => return None,
    };
    Some(RecordSet { name, ttl: rrset.ttl, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DomainName {
        DomainName::parse(s).unwrap()
    }

    #[test]
    fn paths_use_the_canonical_zone_name() {
        assert_eq!(zones_path("localhost"), "/api/v1/servers/localhost/zones");
        assert_eq!(zone_path("localhost", &name("shop.example")), "/api/v1/servers/localhost/zones/shop.example.");
    }

    #[test]
    fn a_new_zone_is_native_with_its_own_soa_and_ns_set() {
        let zone = name("shop.example");
        let ns = [name("ns1.example.net"), name("ns2.example.net")];
        assert_eq!(
            new_zone(&zone, &ns, &name("hostmaster.example.net"), 3600),
            json!({
                "name": "shop.example.",
                "kind": "Native",
                "nameservers": [],
                "rrsets": [{
                    "name": "shop.example.",
                    "type": "SOA",
                    "ttl": 3600,
                    "records": [
                        {"content": "ns1.example.net. hostmaster.example.net. 1 10800 3600 604800 3600", "disabled": false}
                    ]
                }, {
                    "name": "shop.example.",
                    "type": "NS",
                    "ttl": 3600,
                    "records": [
                        {"content": "ns1.example.net.", "disabled": false},
                        {"content": "ns2.example.net.", "disabled": false}
                    ]
                }]
            })
        );
    }

    #[test]
    fn an_upsert_is_one_patch_replacing_every_set() {
        let web = name("web.shop.example");
        let sets = [
            RecordSet {
                name: web.clone(),
                ttl: 60,
                data: RecordData::A(vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()]),
            },
            RecordSet { name: web.clone(), ttl: 300, data: RecordData::Aaaa(vec![Ipv6Addr::LOCALHOST]) },
            RecordSet { name: name("*.shop.example"), ttl: 60, data: RecordData::Cname(web.clone()) },
            RecordSet { name: web, ttl: 60, data: RecordData::Txt(vec!["v=codeb1".into(), "a b".into()]) },
        ];
        assert_eq!(
            replace_patch(&sets),
            json!({"rrsets": [
                {"name": "web.shop.example.", "type": "A", "ttl": 60, "changetype": "REPLACE",
                 "records": [{"content": "10.0.0.1", "disabled": false}, {"content": "10.0.0.2", "disabled": false}]},
                {"name": "web.shop.example.", "type": "AAAA", "ttl": 300, "changetype": "REPLACE",
                 "records": [{"content": "::1", "disabled": false}]},
                {"name": "*.shop.example.", "type": "CNAME", "ttl": 60, "changetype": "REPLACE",
                 "records": [{"content": "web.shop.example.", "disabled": false}]},
                {"name": "web.shop.example.", "type": "TXT", "ttl": 60, "changetype": "REPLACE",
                 "records": [{"content": "\"v=codeb1\"", "disabled": false}, {"content": "\"a b\"", "disabled": false}]}
            ]})
        );
    }

    #[test]
    fn a_delete_is_one_patch_naming_each_set() {
        let keys = [(name("web.shop.example"), RecordType::A), (name("*.shop.example"), RecordType::Cname)];
        assert_eq!(
            delete_patch(&keys),
            json!({"rrsets": [
                {"name": "web.shop.example.", "type": "A", "changetype": "DELETE"},
                {"name": "*.shop.example.", "type": "CNAME", "changetype": "DELETE"}
            ]})
        );
    }

    #[test]
    fn txt_strings_are_quoted_and_escaped() {
        assert_eq!(quote_txt("v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(quote_txt("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
        assert_eq!(quote_txt("tab\there"), "\"tab\\009here\"");
    }

    #[test]
    fn txt_content_unquotes_to_its_text() {
        for text in ["v=codeb1", "", "say \"hi\" \\o/", "tab\there", "ünïcode"] {
            assert_eq!(unquote_txt(&quote_txt(text)).as_deref(), Some(text), "{text:?}");
        }
        // Several character-strings make one text; bare words are read too.
        assert_eq!(unquote_txt("\"a b\" \"c\"").as_deref(), Some("a bc"));
        assert_eq!(unquote_txt("bare").as_deref(), Some("bare"));
        for bad in ["\"open", "a\"b", "\"x\\"] {
            assert_eq!(unquote_txt(bad), None, "{bad:?}");
        }
    }

    fn srv(port: u16, target: &DomainName) -> SrvRecord {
        SrvRecord { priority: 0, weight: 0, port: Port::new(port).unwrap(), target: target.clone() }
    }

    #[test]
    fn an_srv_record_is_priority_weight_port_and_canonical_target() {
        let data = RecordData::Srv(vec![srv(4001, &name("web.shop.example"))]);
        assert_eq!(contents(&data), vec!["0 0 4001 web.shop.example.".to_owned()]);
    }

    #[test]
    fn only_codeb_record_types_are_read_back() {
        let zone: Zone = serde_json::from_value(json!({"rrsets": [
            {"name": "shop.example.", "type": "SOA", "ttl": 3600, "records": [{"content": "a. b. 1 2 3 4 5", "disabled": false}]},
            {"name": "shop.example.", "type": "NS", "ttl": 3600, "records": [{"content": "ns1.example.net.", "disabled": false}]},
            {"name": "web.shop.example.", "type": "TXT", "ttl": 60, "records": [{"content": "\"v=codeb1\"", "disabled": false}]},
            {"name": "web.shop.example.", "type": "A", "ttl": 60, "records": [
                {"content": "10.0.0.2", "disabled": false}, {"content": "10.0.0.9", "disabled": true}]},
            {"name": "*.shop.example.", "type": "CNAME", "ttl": 60, "records": [{"content": "web.shop.example.", "disabled": false}]},
            {"name": "web.shop.example.", "type": "AAAA", "ttl": 300, "records": [{"content": "::1", "disabled": false}]},
            {"name": "_dmarc.shop.example.", "type": "TXT", "ttl": 60, "records": [{"content": "\"v=DMARC1\"", "disabled": false}]},
            {"name": "shop.example.", "type": "MX", "ttl": 60, "records": [{"content": "10 mx.example.net.", "disabled": false}]},
            {"name": "off.shop.example.", "type": "A", "ttl": 60, "records": [{"content": "10.0.0.3", "disabled": true}]},
            {"name": "app.shop.example.", "type": "SRV", "ttl": 1, "records": [{"content": "0 0 4001 web.shop.example.", "disabled": false}]},
            {"name": "bad.shop.example.", "type": "SRV", "ttl": 1, "records": [{"content": "0 0 4001 10.0.0.2.", "disabled": false}]}
        ]}))
        .unwrap();
        let web = name("web.shop.example");
        assert_eq!(
            record_sets(&zone),
            vec![
                RecordSet { name: name("*.shop.example"), ttl: 60, data: RecordData::Cname(web.clone()) },
                RecordSet { name: name("app.shop.example"), ttl: 1, data: RecordData::Srv(vec![srv(4001, &web)]) },
                RecordSet { name: web.clone(), ttl: 60, data: RecordData::A(vec![[10, 0, 0, 2].into()]) },
                RecordSet { name: web.clone(), ttl: 300, data: RecordData::Aaaa(vec![Ipv6Addr::LOCALHOST]) },
                RecordSet { name: web, ttl: 60, data: RecordData::Txt(vec!["v=codeb1".into()]) },
            ]
        );
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let web = name("web.shop.example");
        let sets = vec![
            RecordSet { name: name("*.shop.example"), ttl: 60, data: RecordData::Cname(web.clone()) },
            RecordSet { name: name("app.shop.example"), ttl: 1, data: RecordData::Srv(vec![srv(4001, &web)]) },
            RecordSet { name: web.clone(), ttl: 60, data: RecordData::A(vec![[10, 0, 0, 1].into()]) },
            RecordSet { name: web, ttl: 60, data: RecordData::Txt(vec!["v=codeb1".into(), "x y".into()]) },
        ];
        let rrsets: Vec<Value> = replace_patch(&sets)["rrsets"].as_array().unwrap().clone();
        let zone: Zone = serde_json::from_value(json!({ "rrsets": rrsets })).unwrap();
        assert_eq!(record_sets(&zone), sets);
    }
}
