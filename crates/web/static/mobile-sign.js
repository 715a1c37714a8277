// Signing by phone: the page with the QR code asks the server every 1.5 s where the signing is, and
// once the app has signed (or was refused, or the code expired) collects the outcome with the page's
// own form, which works without this script too. Texts come from the page.
'use strict';
(function () {
  const form = document.getElementById('finish');
  if (!form) return;
  const status = document.getElementById('mobile-status');
  const done = ['signed', 'refused', 'expired', 'collected'];
  const poll = async () => {
    try {
      const r = await fetch(form.dataset.status, {
        headers: { 'X-Qoljetim-Background': '1', 'Accept-Language': document.documentElement.lang },
      });
      if (!r.ok) { form.submit(); return; } // the finish page says why
      const s = await r.json();
      if (done.includes(s.state)) {
        status.textContent = form.dataset.msgDone;
        form.submit();
        return;
      }
      if (s.state === 'verifying') status.textContent = form.dataset.msgVerifying;
    } catch (e) {
      // The network comes back: keep asking.
    }
    setTimeout(poll, 1500);
  };
  setTimeout(poll, 1500);
})();
