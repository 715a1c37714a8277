// Sign-in with NCALayer (Order 270 §11): the server's challenge is signed as an attached CMS with the
// authentication key (1.3.6.1.5.5.7.3.2) and posted to /api/v1/auth/login, which sets the session
// cookie. Texts come from the page (Fluent), never from this file.
'use strict';
(function () {
  const box = document.getElementById('sign-in');
  const button = document.getElementById('sign-in-button');
  const status = document.getElementById('sign-in-status');
  if (!box || !button || !status) return;
  const say = (text, error) => {
    status.textContent = text;
    status.className = error ? 'error' : '';
  };
  const problemText = async (response) => {
    try {
      const p = await response.json();
      return [p.title, p.detail].filter(Boolean).join(': ');
    } catch (e) {
      return box.dataset.msgFailed;
    }
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    say(box.dataset.msgWorking, false);
    try {
      const lang = box.dataset.lang;
      const challenge = await fetch('/api/v1/auth/challenge', { headers: { 'Accept-Language': lang } });
      if (!challenge.ok) { say(await problemText(challenge), true); return; }
      const { challenge: text } = await challenge.json();
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
          btoa(text),
          window.NCALayerClient.basicsCMSParamsAttached,
          window.NCALayerClient.basicsSignerAuthAny,
          lang === 'en' ? 'en' : (lang === 'kk' ? 'kk' : 'ru'),
        );
      } catch (e) {
        say(e && e.canceledByUser ? box.dataset.msgCancelled : `${box.dataset.msgFailed} ${e && e.message ? e.message : ''}`, true);
        return;
      }
      const login = await fetch('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept-Language': lang },
        body: JSON.stringify({ signed_cms: cms }),
      });
      if (!login.ok) { say(await problemText(login), true); return; }
      window.location.assign('/');
    } catch (e) {
      say(box.dataset.msgFailed, true);
    } finally {
      button.disabled = false;
    }
  });
}());
