//! What APIv2 endpoints need, as wechatpay-php's documentation marks them (`../shared/catalog`, 129 APIv2
//! operations), by path after the `v2/` prefix. Sorted, for binary search.

/// The endpoints that demand the merchant's TLS client certificate (PHP's `security => true`).
pub(crate) const SECURITY: [&str; 57] = [
    "applyment/micro/getstate",
    "applyment/micro/getupgradestate",
    "applyment/micro/modifyarchives",
    "applyment/micro/modifycontactinfo",
    "applyment/micro/signcontract",
    "applyment/micro/submit",
    "applyment/micro/submitupgrade",
    "billcommentsp/batchquerycomment",
    "deposit/consume",
    "deposit/refund",
    "deposit/reverse",
    "fund/queryautowithdrawbydate",
    "fund/reautowithdrawbydate",
    "mchrisk/querymchrisk",
    "mchrisk/syncmchriskresult",
    "mmpaymkttransfers/gethbinfo",
    "mmpaymkttransfers/gettransferinfo",
    "mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "mmpaymkttransfers/promotion/transfers",
    "mmpaymkttransfers/queryworkwxredpack",
    "mmpaymkttransfers/send_coupon",
    "mmpaymkttransfers/sendgroupredpack",
    "mmpaymkttransfers/sendminiprogramhb",
    "mmpaymkttransfers/sendredpack",
    "mmpaymkttransfers/sendworkwxredpack",
    "mmpaysptrans/pay_bank",
    "mmpaysptrans/query_bank",
    "pay/downloadfundflow",
    "risk/getpublickey",
    "risk/getviolation",
    "secapi/mch/addInstitutionsub",
    "secapi/mch/addsubdevconfig",
    "secapi/mch/channelsetting",
    "secapi/mch/modifyInstitutionsub",
    "secapi/mch/modifymchinfo",
    "secapi/mch/queryInstitutionsub",
    "secapi/mch/querysubdevconfig",
    "secapi/mch/submchmanage",
    "secapi/mch/uploadmedia",
    "secapi/mkt/addrecommendconf",
    "secapi/pay/facepayreverse",
    "secapi/pay/multiprofitsharing",
    "secapi/pay/profitsharing",
    "secapi/pay/profitsharingfinish",
    "secapi/pay/profitsharingreturn",
    "secapi/pay/refund",
    "secapi/pay/refundv2",
    "secapi/pay/reverse",
    "wxv/cancelbill",
    "wxv/changerentmoney",
    "wxv/createhotelbill",
    "wxv/createrentbill",
    "wxv/finishhotelbill",
    "wxv/finishrentbill",
    "wxv/queryhotelbill",
    "wxv/queryrentbill",
];

/// The endpoints that take no `nonce_str`.
pub(crate) const NONCELESS: [&str; 19] = [
    "cgi-bin/mch/customs/customdeclareorder",
    "cgi-bin/mch/customs/customdeclarequery",
    "cgi-bin/mch/newcustoms/customdeclareredeclare",
    "papay/deletecontract",
    "papay/h5entrustweb",
    "papay/partner/deletecontract",
    "papay/partner/h5entrustweb",
    "papay/partner/preentrustweb",
    "papay/partner/querycontract",
    "papay/preentrustweb",
    "papay/querycontract",
    "pay/queryexchagerate",
    "secapi/mch/addInstitutionsub",
    "secapi/mch/addsubdevconfig",
    "secapi/mch/channelsetting",
    "secapi/mch/modifyInstitutionsub",
    "secapi/mch/modifymchinfo",
    "secapi/mch/queryInstitutionsub",
    "secapi/mch/querysubdevconfig",
];

/// The endpoints whose answers carry no `sign` (the two bank-transfer paths under `mmpaysptrans/`, where
/// WeChat Pay serves them: PHP 1.4.12 lists them under `mmpaymkttransfers/` and so rejects their answers).
pub(crate) const UNSIGNED: [&str; 24] = [
    "mchrisk/querymchrisk",
    "mchrisk/setmchriskcallback",
    "mchrisk/syncmchriskresult",
    "mmpaymkttransfers/gethbinfo",
    "mmpaymkttransfers/gettransferinfo",
    "mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "mmpaymkttransfers/promotion/transfers",
    "mmpaymkttransfers/sendgroupredpack",
    "mmpaymkttransfers/sendminiprogramhb",
    "mmpaymkttransfers/sendredpack",
    "mmpaysptrans/pay_bank",
    "mmpaysptrans/query_bank",
    "papay/entrustweb",
    "papay/h5entrustweb",
    "papay/partner/entrustweb",
    "papay/partner/h5entrustweb",
    "pay/downloadbill",
    "pay/downloadfundflow",
    "payitil/report",
    "risk/getpublickey",
    "risk/getviolation",
    "secapi/mch/submchmanage",
    "xdc/apiv2getsignkey/sign/getsignkey",
];

/// The endpoints that answer a bill (CSV, or gzip) rather than XML, unless they fail.
pub(crate) const BILLS: [&str; 2] = ["pay/downloadbill", "pay/downloadfundflow"];

/// Whether `path` (after `v2/`, exact) is in the sorted `list`.
pub(crate) fn listed(list: &[&str], path: &str) -> bool {
    list.binary_search(&path).is_ok()
}

/// The field that names the merchant in a request to `path`: `mchid` for 企业付款, `mch_id` elsewhere
/// (`combine_mch_id` for combined orders, when present).
pub(crate) fn mchid_fields(path: &str) -> &'static [&'static str] {
    if path == "mmpaymkttransfers/promotion/transfers" {
        &["mchid"]
    } else {
        &["mch_id", "combine_mch_id"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_counted() {
        for list in [&SECURITY[..], &NONCELESS[..], &UNSIGNED[..], &BILLS[..]] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
        assert_eq!((SECURITY.len(), NONCELESS.len()), (57, 19));
        assert!(listed(&SECURITY, "secapi/pay/refund") && listed(&SECURITY, "secapi/mch/addInstitutionsub"));
        assert!(!listed(&SECURITY, "pay/micropay") && !listed(&SECURITY, "secapi/mch/addinstitutionsub"));
        assert!(listed(&UNSIGNED, "mmpaysptrans/pay_bank") && !listed(&UNSIGNED, "mmpaymkttransfers/pay_bank"));
        assert!(listed(&NONCELESS, "papay/querycontract"));
    }

    #[test]
    fn the_lists_are_the_catalogs() {
        // The client's copies must never drift from the catalog they were generated from.
        use std::collections::BTreeSet;
        let from = |flag: fn(&crate::catalog::Operation) -> bool| -> BTreeSet<&str> {
            crate::catalog::operations()
                .iter()
                .filter(|op| op.is_apiv2() && flag(op))
                .map(|op| op.template().trim_start_matches("v2/"))
                .collect()
        };
        assert_eq!(
            from(|op| op.needs_client_certificate()),
            SECURITY.iter().copied().collect()
        );
        assert_eq!(from(|op| op.is_nonceless()), NONCELESS.iter().copied().collect());
    }
}
