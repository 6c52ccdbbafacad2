//! gig-core's list of the property names librdkafka knows is that of the librdkafka this
//! crate links, both ways: every name on it is one librdkafka takes, and every property
//! librdkafka lists is on it. Gig treats a value under any other name as a secret (a
//! misspelled `sasl.password` is still a password) and refuses such a name from the
//! environment, so a stale list would hide values or refuse a good setting: after an
//! rdkafka upgrade this test says which names to add or drop.

use std::ffi::{c_char, CString};
use std::io::Read;
use std::os::fd::FromRawFd;

use gig_core::properties::{is_known, LIBRDKAFKA_PROPERTIES};
use rdkafka::bindings as rd;

#[test]
fn every_listed_name_is_one_librdkafka_takes() {
    let mut unknown = Vec::new();
    // SAFETY: a fresh configuration, set with NUL-terminated strings and an error buffer of
    // the size given, then destroyed once.
    unsafe {
        let conf = rd::rd_kafka_conf_new();
        for name in LIBRDKAFKA_PROPERTIES {
            let key = CString::new(*name).unwrap();
            let mut error = [0 as c_char; 512];
            // An empty value resets a property to its default: it can only be refused for
            // its name, or for its type (a callback, set through its own function).
            let result = rd::rd_kafka_conf_set(
                conf,
                key.as_ptr(),
                c"".as_ptr(),
                error.as_mut_ptr(),
                error.len(),
            );
            if result == rd::rd_kafka_conf_res_t::RD_KAFKA_CONF_UNKNOWN {
                unknown.push(*name);
            }
        }
        rd::rd_kafka_conf_destroy(conf);
    }
    assert!(unknown.is_empty(), "librdkafka does not know {unknown:?}");
}

#[test]
fn every_property_librdkafka_lists_is_on_the_list() {
    let table = properties_table();
    let listed: Vec<&str> = table
        .lines()
        .filter_map(|line| line.split_once(" | "))
        .map(|(name, _)| name.trim())
        .filter(|name| !name.is_empty() && *name != "Property" && !name.starts_with('-'))
        .collect();
    assert!(
        listed.len() > 150,
        "{} properties in:\n{table}",
        listed.len()
    );
    let missing: Vec<&&str> = listed.iter().filter(|name| !is_known(name)).collect();
    assert!(
        missing.is_empty(),
        "not in LIBRDKAFKA_PROPERTIES: {missing:?}"
    );
}

/// librdkafka's own table of its properties (`rd_kafka_conf_properties_show`), as text.
fn properties_table() -> String {
    let mut text = String::new();
    // SAFETY: a temporary file librdkafka writes to, flushed, then read back through a
    // duplicate of its descriptor, which `File` closes; `fclose` closes the original.
    unsafe {
        let file = libc::tmpfile();
        assert!(!file.is_null(), "tmpfile");
        rd::rd_kafka_conf_properties_show(file);
        libc::fflush(file);
        let fd = libc::dup(libc::fileno(file));
        libc::fclose(file);
        let mut read = std::fs::File::from_raw_fd(fd);
        std::io::Seek::seek(&mut read, std::io::SeekFrom::Start(0)).unwrap();
        read.read_to_string(&mut text).unwrap();
    }
    text
}
