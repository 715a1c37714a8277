// Signing with NCALayer in the browser. Two uses, one flow (a box with data-sign):
// - "login" (Order 270 §11): the server's challenge is signed as an attached CMS with the
//   authentication key (1.3.6.1.5.5.7.3.2) and posted to /api/v1/auth/login, which sets the session;
// - "document": the exact text of the page's document (an application, a block request) is signed as
//   an attached CMS with the signing key (1.3.6.1.5.5.7.3.4) and posted to the box's endpoint; the
//   answer's id opens the next page.
// Texts come from the page (Fluent), never from this file.
'use strict';
(function () {
  const box = document.querySelector('[data-sign]');
  if (!box) return;
  const button = box.querySelector('button');
  const status = box.querySelector('[role=alert]');
  const lang = box.dataset.lang;
  const say = (text, error) => {
    status.textContent = text;
    status.className = error ? 'error' : '';
  };
  const problemText = async (response) => {
    try {
      const p = await response.json();
      const fields = (p.errors || []).map((e) => `${e.field}: ${e.detail}`);
      return [[p.title, p.detail].filter(Boolean).join(': ')].concat(fields).join(' · ');
    } catch (e) {
      return box.dataset.msgFailed;
    }
  };
  // UTF-8 bytes of the text, base64: NCALayer signs these bytes exactly (decode: true).
  const base64 = (text) => {
    let binary = '';
    new TextEncoder().encode(text).forEach((b) => { binary += String.fromCharCode(b); });
    return btoa(binary);
  };
  const post = (url, cms) => fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
    body: JSON.stringify({ signed_cms: cms }),
  });
  const login = box.dataset.sign === 'login';
  // A document edited after its check is not signed: the form must be checked again.
  const form = box.dataset.form && document.getElementById(box.dataset.form);
  let changed = false;
  if (form) {
    form.addEventListener('input', () => {
      changed = true;
      button.disabled = true;
      say(box.dataset.msgChanged, true);
    });
  }
  button.addEventListener('click', async () => {
    button.disabled = true;
    say(box.dataset.msgWorking, false);
    try {
      let text;
      if (login) {
        const challenge = await fetch('/api/v1/auth/challenge', { headers: { 'Accept-Language': lang } });
        if (!challenge.ok) { say(await problemText(challenge), true); return; }
        text = (await challenge.json()).challenge;
      } else {
        text = document.getElementById(box.dataset.document).textContent;
      }
      const client = new window.NCALayerClient(box.dataset.ncalayer, false);
      try {
        await client.connect();
      } catch (e) {
        say(box.dataset.msgNoNcalayer, true);
        return;
      }
      let cms;
      try {
        cms = await client.basicsSignCMS(
          window.NCALayerClient.basicsStorageAll,
          base64(text),
          window.NCALayerClient.basicsCMSParamsAttached,
          login ? window.NCALayerClient.basicsSignerAuthAny : window.NCALayerClient.basicsSignerSignAny,
          lang === 'en' ? 'en' : (lang === 'kk' ? 'kk' : 'ru'),
        );
      } catch (e) {
        say(e && e.canceledByUser ? box.dataset.msgCancelled : `${box.dataset.msgFailed} ${e && e.message ? e.message : ''}`, true);
        return;
      }
      const answer = await post(login ? '/api/v1/auth/login' : box.dataset.endpoint, cms);
      if (!answer.ok) { say(await problemText(answer), true); return; }
      if (login) {
        window.location.assign('/');
      } else {
        const created = await answer.json();
        window.location.assign(box.dataset.next.replace('{id}', String(created.id)));
      }
    } catch (e) {
      say(box.dataset.msgFailed, true);
    } finally {
      button.disabled = changed;
    }
  });
}());
