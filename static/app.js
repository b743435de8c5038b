// Progressive enhancement only: every page works without this file.
// Live validation of the landing form, mirroring src/domain/username.rs (the server checks again).
(function () {
  const form = document.getElementById('create-form');
  if (!form) return;
  const name = form.querySelector('#name');
  const user = form.querySelector('#username');
  const nameErr = form.querySelector('#name-error');
  const userErr = form.querySelector('#username-error');
  function checkName(v) {
    v = v.trim();
    const n = [...v].length;
    if (n < 1 || n > 64 || /[\u0000-\u001f\u007f]/.test(v)) return "The bot's name must be 1 to 64 characters long.";
    return '';
  }
  function checkUser(v) {
    v = v.trim().replace(/^@/, '');
    if (v.length < 5 || v.length > 32) return 'A bot username must be 5 to 32 characters long.';
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(v)) return 'A bot username may use only Latin letters, digits and underscores, and must start with a letter.';
    if (!/bot$/i.test(v)) return 'A bot username must end in "bot", for example tetris_bot or TetrisBot.';
    return '';
  }
  function show(input, el, msg, touched) {
    if (!touched) return;
    el.textContent = msg;
    input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  }
  let touchedName = !!name.value, touchedUser = !!user.value;
  name.addEventListener('input', () => { touchedName = true; show(name, nameErr, checkName(name.value), true); });
  user.addEventListener('input', () => { touchedUser = true; show(user, userErr, checkUser(user.value), true); });
  form.addEventListener('submit', (e) => {
    const a = checkName(name.value), b = checkUser(user.value);
    show(name, nameErr, a, true); show(user, userErr, b, true);
    if (a || b) { e.preventDefault(); (a ? name : user).focus(); }
  });
})();
