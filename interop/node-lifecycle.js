// Interop check: the Node twin (wechatpay-axios-plugin), unchanged, against `wxpay mock serve`.
// Usage: node node-lifecycle.js '<the JSON line wxpay mock serve printed>'
'use strict';
const { Wechatpay } = require('wechatpay-axios-plugin');

const info = JSON.parse(process.argv[2]);
const wxpay = new Wechatpay({
  mchid: info.mchid,
  serial: info.serial,
  privateKey: `file://${info.private_key}`,
  certs: { [info.public_key_id]: `file://${info.public_key}` },
  baseURL: info.base_uri,
});

const show = (step) => (res) => { console.log(JSON.stringify({ step, status: res.status, data: res.data })); return res; };

(async () => {
  await wxpay.v3.marketing.busifavor.coupons.send.post({
    openid: 'xsd3434454567676', appid: 'wx1234567889999', stock_id: '100088',
    out_request_no: 'NODE-REQ-0001', coupon_code: 'NODE0001',
  }).then(show('send'));
  await wxpay.chain('v3/marketing/busifavor/coupons/associate').post({
    stock_id: '100088', coupon_code: 'NODE0001', out_trade_no: 'NODE-ORDER-1', out_request_no: 'NODE-REQ-0002',
  }).then(show('associate'));
  await wxpay['v3/marketing/busifavor/coupons/disassociate'].post({
    stock_id: '100088', coupon_code: 'NODE0001', out_trade_no: 'NODE-ORDER-1', out_request_no: 'NODE-REQ-0003',
  }).then(show('disassociate'));
  await wxpay.v3.marketing.busifavor.users._openid_.coupons._coupon_code_.appids._appid_.get({
    openid: 'xsd3434454567676', coupon_code: 'NODE0001', appid: 'wx1234567889999',
  }).then(show('query'));
  await wxpay.v3.marketing.busifavor.coupons.use.post({
    coupon_code: 'NODE0001', stock_id: '100088', appid: 'wx1234567889999',
    use_time: '2015-05-20T13:29:35+08:00', use_request_no: 'NODE-REQ-0004', openid: 'xsd3434454567676',
  }).then(show('use'));
  try {
    await wxpay.v3.marketing.busifavor.stocks._stock_id_.get({ stock_id: 'NOPE' });
    throw new Error('an unknown stock must be refused');
  } catch (e) {
    if (!e.response || e.response.status !== 404) throw e;
    console.log(JSON.stringify({ step: 'unknown stock', status: e.response.status, data: e.response.data }));
  }
})().catch((e) => { console.error(e.response ? e.response.data : e); process.exit(1); });
