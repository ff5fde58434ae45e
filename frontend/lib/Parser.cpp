//===- Parser.cpp - .rdsl parser ------------------------------------------===//
//
// Grammar (newlines end statements outside parentheses and brackets):
//
//   file     := import* model?
//   import   := 'import' STRING 'as' NAME ('(' binding (',' binding)* ')')?
//   model    := 'model' NAME '{' item* '}'
//   item     := 'const' binding (',' binding)*
//             | 'dim' NAME ('<=' expr)? (',' NAME ('<=' expr)?)*
//             | 'config' (NAME | STRING) '{' bindings '}'
//             | ('input' | 'target') NAME ':' type
//             | 'param' NAME ':' type ('=' expr)?
//             | ('block' | 'def') NAME '(' formals ')' ('=' expr | body)
//             | ('loss' | 'reward') NAME ('=' expr | body)
//             | 'generate' NAME (':' type)? '=' call
//             | 'train' '{' (call | binding | stage)* '}'
//             | 'seed' '=' expr
//   stmt     := 'return' expr (',' expr)* | 'if' expr body ('else' body)?
//             | 'for' NAME 'in' expr body | NAME (',' NAME)* '=' expr
//   type     := DTYPE ('<' expr '>')? ('[' expr (',' expr)* ']')?
//
//===----------------------------------------------------------------------===//

#include "onerec/Frontend/Parser.h"

using namespace onerec::frontend;

llvm::StringRef onerec::frontend::spell(UnaryOp op) {
  switch (op) {
  case UnaryOp::Neg:
    return "-";
  case UnaryOp::Plus:
    return "+";
  case UnaryOp::Not:
    return "not";
  }
  return "?";
}

llvm::StringRef onerec::frontend::spell(BinaryOp op) {
  switch (op) {
  case BinaryOp::Add:
    return "+";
  case BinaryOp::Sub:
    return "-";
  case BinaryOp::Mul:
    return "*";
  case BinaryOp::Div:
    return "/";
  case BinaryOp::Mod:
    return "%";
  case BinaryOp::Pow:
    return "**";
  case BinaryOp::Eq:
    return "==";
  case BinaryOp::Ne:
    return "!=";
  case BinaryOp::Lt:
    return "<";
  case BinaryOp::Le:
    return "<=";
  case BinaryOp::Gt:
    return ">";
  case BinaryOp::Ge:
    return ">=";
  case BinaryOp::And:
    return "and";
  case BinaryOp::Or:
    return "or";
  }
  return "?";
}

Parser::DepthGuard::DepthGuard(Parser &parser)
    : parser(parser), exceeded(++parser.depth > kMaxNesting) {
  if (exceeded && !parser.reportedDepth) {
    parser.reportedDepth = true;
    parser.diag.error(parser.tok().getLoc())
        << "expression is nested deeper than " << kMaxNesting
        << " levels (operators in a chain count too); split it up";
  }
}

bool Parser::growChain(unsigned &links) {
  // `a + b + c` builds a left-deep tree that the compiler walks recursively,
  // so each link of a chain counts as a level of nesting.
  ++links;
  if (depth + links <= kMaxNesting)
    return true;
  if (!reportedDepth) {
    reportedDepth = true;
    diag.error(tok().getLoc())
        << "expression is nested deeper than " << kMaxNesting
        << " levels (operators in a chain count too); split it up";
  }
  return false;
}

Parser::Parser(llvm::StringRef buffer, DiagnosticReporter &diag)
    : lexer(buffer, diag), diag(diag) {
  current = pull();
}

//===----------------------------------------------------------------------===//
// Tokens
//===----------------------------------------------------------------------===//

Token Parser::pull() {
  // Invalid characters were reported by the lexer; the parser never sees them.
  Token token = lexer.next();
  while (token.is(TokenKind::Error))
    token = lexer.next();
  return token;
}

const Token &Parser::peek() {
  if (lookahead.empty())
    lookahead.push_back(pull());
  return lookahead.front();
}

void Parser::consume() {
  if (current.is(TokenKind::Eof))
    return;
  if (!lookahead.empty()) {
    current = std::move(lookahead.front());
    lookahead.pop_front();
  } else {
    current = pull();
  }
}

bool Parser::consumeIf(TokenKind kind) {
  if (!tok().is(kind))
    return false;
  consume();
  return true;
}

static std::string describe(const Token &token) {
  switch (token.kind) {
  case TokenKind::Eof:
  case TokenKind::Newline:
    return spell(token.kind).str();
  default:
    return "'" + token.spelling.str() + "'";
  }
}

bool Parser::expect(TokenKind kind, llvm::StringRef context) {
  if (consumeIf(kind))
    return true;
  diag.error(tok().getLoc()) << "expected " << spell(kind) << " " << context
                             << ", found " << describe(tok());
  return false;
}

void Parser::skipNewlines() {
  while (tok().is(TokenKind::Newline) || tok().is(TokenKind::Semicolon))
    consume();
}

bool Parser::expectTerminator(llvm::StringRef context) {
  if (tok().is(TokenKind::Newline) || tok().is(TokenKind::Semicolon)) {
    consume();
    return true;
  }
  if (tok().is(TokenKind::RBrace) || tok().is(TokenKind::Eof))
    return true;
  diag.error(tok().getLoc()) << "expected end of line after " << context
                             << ", found " << describe(tok());
  return false;
}

void Parser::synchronize() {
  int braces = 0;
  while (!tok().is(TokenKind::Eof)) {
    // The next declaration is a safe place to resume.
    if (braces == 0 && tok().startsDeclaration())
      return;
    if (braces == 0 &&
        (tok().is(TokenKind::Newline) || tok().is(TokenKind::Semicolon))) {
      consume();
      return;
    }
    if (tok().is(TokenKind::LBrace)) {
      ++braces;
    } else if (tok().is(TokenKind::RBrace)) {
      if (braces == 0)
        return; // leave the '}' to the enclosing body
      --braces;
    }
    consume();
  }
}

void Parser::recover(llvm::SMLoc itemStart) {
  synchronize();
  // An item that failed at its first token must still move the parser on.
  if (tok().getLoc() == itemStart && !tok().is(TokenKind::Eof)) {
    consume();
    synchronize();
  }
}

bool Parser::parseIdentifier(std::string &name, llvm::StringRef context,
                             llvm::SMLoc *loc) {
  if (loc)
    *loc = tok().getLoc();
  if (tok().is(TokenKind::Identifier)) {
    name = tok().spelling.str();
    consume();
    return true;
  }
  auto error = diag.error(tok().getLoc());
  error << "expected a name " << context << ", found " << describe(tok());
  if (tok().isKeyword())
    error << " ('" << tok().spelling << "' is a reserved word)";
  return false;
}

//===----------------------------------------------------------------------===//
// File and model
//===----------------------------------------------------------------------===//

FileAST Parser::parseFile() {
  FileAST file;
  skipNewlines();
  while (tok().is(TokenKind::Kw_import)) {
    parseImport(file);
    skipNewlines();
  }
  if (tok().is(TokenKind::Kw_model)) {
    parseModel(file);
    skipNewlines();
  } else if (!tok().is(TokenKind::Eof)) {
    diag.error(tok().getLoc())
        << "expected 'model' or 'import' at the top level, found "
        << describe(tok());
    return file;
  } else {
    diag.error(tok().getLoc()) << "the file defines no model";
    return file;
  }
  if (!tok().is(TokenKind::Eof))
    diag.error(tok().getLoc())
        << "expected end of file after the model, found " << describe(tok())
        << " (a file holds one model)";
  return file;
}

void Parser::parseImport(FileAST &file) {
  ImportDecl import;
  import.loc = tok().getLoc();
  consume(); // import
  if (!tok().is(TokenKind::String)) {
    diag.error(tok().getLoc())
        << "expected a file name in quotes after 'import', found "
        << describe(tok());
    synchronize();
    return;
  }
  import.path = tok().stringValue;
  consume();
  if (!expect(TokenKind::Kw_as, "after the imported file name") ||
      !parseIdentifier(import.alias, "for the imported model")) {
    synchronize();
    return;
  }
  if (consumeIf(TokenKind::LParen) && !consumeIf(TokenKind::RParen)) {
    do {
      Binding binding;
      if (!parseBinding(binding, "in the import's constants")) {
        synchronize();
        return;
      }
      import.bindings.push_back(std::move(binding));
    } while (consumeIf(TokenKind::Comma));
    if (!expect(TokenKind::RParen, "to close the import's constants")) {
      synchronize();
      return;
    }
  }
  if (!expectTerminator("the import"))
    synchronize();
  file.imports.push_back(std::move(import));
}

void Parser::parseModel(FileAST &file) {
  ModelDecl model;
  model.loc = tok().getLoc();
  consume(); // model
  if (!parseIdentifier(model.name, "after 'model'"))
    return;
  llvm::SMLoc open = tok().getLoc();
  if (!expect(TokenKind::LBrace, "to open the model"))
    return;
  skipNewlines();
  while (!tok().is(TokenKind::RBrace) && !tok().is(TokenKind::Eof) &&
         !diag.tooManyErrors()) {
    llvm::SMLoc start = tok().getLoc();
    if (!parseModelItem(model))
      recover(start);
    skipNewlines();
  }
  if (!tok().is(TokenKind::RBrace)) {
    // An unclosed body inside the model was already reported at the end.
    if (!diag.tooManyErrors() && !reportedUnclosedBody) {
      auto error = diag.error(tok().getLoc());
      error << "expected '}' to close model '" << model.name << "'";
      error.attachNote(diag.location(open)) << "the model opens here";
    }
  } else {
    consume();
  }
  file.model = std::move(model);
}

bool Parser::parseModelItem(ModelDecl &model) {
  llvm::SMLoc loc = tok().getLoc();
  switch (tok().kind) {
  case TokenKind::Kw_const: {
    consume();
    do {
      Binding binding;
      if (!parseBinding(binding, "in the constant declaration"))
        return false;
      model.consts.push_back(
          ConstDecl{binding.loc, binding.name, std::move(binding.value)});
    } while (consumeIf(TokenKind::Comma));
    return expectTerminator("the constants");
  }
  case TokenKind::Kw_dim: {
    consume();
    do {
      DimDecl dim;
      if (!parseIdentifier(dim.name, "for the dimension", &dim.loc))
        return false;
      if (consumeIf(TokenKind::LessEqual)) {
        dim.max = parseAdditive();
        if (!dim.max)
          return false;
      }
      model.dims.push_back(std::move(dim));
    } while (consumeIf(TokenKind::Comma));
    return expectTerminator("the dimensions");
  }
  case TokenKind::Kw_config: {
    consume();
    ConfigDecl config;
    config.loc = tok().getLoc();
    if (tok().is(TokenKind::String)) {
      config.name = tok().stringValue;
      consume();
    } else if (!parseIdentifier(config.name, "for the configuration")) {
      return false;
    }
    if (!expect(TokenKind::LBrace, "to open the configuration") ||
        !parseBindings(config.values, "in the configuration"))
      return false;
    model.configs.push_back(std::move(config));
    return expectTerminator("the configuration");
  }
  case TokenKind::Kw_input:
  case TokenKind::Kw_target: {
    InputDecl input;
    input.role =
        tok().is(TokenKind::Kw_input) ? InputRole::Input : InputRole::Target;
    consume();
    if (!parseIdentifier(input.name, "for the input", &input.loc) ||
        !expect(TokenKind::Colon, "before the input's type") ||
        !parseType(input.type))
      return false;
    model.inputs.push_back(std::move(input));
    return expectTerminator("the input");
  }
  case TokenKind::Kw_param: {
    consume();
    ParamDecl param;
    if (!parseIdentifier(param.name, "for the parameter", &param.loc) ||
        !expect(TokenKind::Colon, "before the parameter's type") ||
        !parseType(param.type))
      return false;
    if (consumeIf(TokenKind::Equal)) {
      param.init = parseExpr();
      if (!param.init)
        return false;
    }
    model.params.push_back(std::move(param));
    return expectTerminator("the parameter");
  }
  case TokenKind::Kw_block:
    return parseFunction(FunctionDecl::Kind::Block, model);
  case TokenKind::Kw_def:
    return parseFunction(FunctionDecl::Kind::Def, model);
  case TokenKind::Kw_loss:
    return parseFunction(FunctionDecl::Kind::Loss, model);
  case TokenKind::Kw_reward:
    return parseFunction(FunctionDecl::Kind::Reward, model);
  case TokenKind::Kw_generate:
    return parseGenerate(model);
  case TokenKind::Kw_train:
    return parseTrain(model);
  case TokenKind::Identifier:
    if (tok().spelling == "seed") {
      Binding seed;
      if (!parseBinding(seed, "for the model seed"))
        return false;
      model.seed = std::move(seed);
      return expectTerminator("the seed");
    }
    [[fallthrough]];
  default: {
    auto error = diag.error(loc);
    error << "expected a declaration (const, dim, config, input, target, "
             "param, block, def, loss, reward, generate, train, seed), found "
          << describe(tok());
    if (tok().is(TokenKind::Identifier)) {
      static const std::vector<std::string> kDecls = {
          "const", "dim", "config", "input",  "target",   "param",
          "block", "def", "loss",   "reward", "generate", "train"};
      error << didYouMean(tok().spelling, kDecls);
    }
    return false;
  }
  }
}

bool Parser::parseBinding(Binding &out, llvm::StringRef context) {
  if (!parseIdentifier(out.name, context, &out.loc) ||
      !expect(TokenKind::Equal, "after '" + out.name + "'"))
    return false;
  skipNewlines(); // `name =` may continue on the next line
  out.value = parseExpr();
  return out.value != nullptr;
}

/// `name = value` pairs separated by commas or newlines, up to a '}'.
bool Parser::parseBindings(std::vector<Binding> &out, llvm::StringRef context) {
  skipNewlines();
  while (!tok().is(TokenKind::RBrace)) {
    if (tok().is(TokenKind::Eof))
      return expect(TokenKind::RBrace, context);
    Binding binding;
    if (!parseBinding(binding, context))
      return false;
    out.push_back(std::move(binding));
    if (!consumeIf(TokenKind::Comma) && !tok().is(TokenKind::RBrace) &&
        !expectTerminator("the setting"))
      return false;
    skipNewlines();
  }
  consume(); // }
  return true;
}

bool Parser::parseFunction(FunctionDecl::Kind kind, ModelDecl &model) {
  FunctionDecl fn;
  fn.kind = kind;
  llvm::StringRef keyword = tok().spelling;
  consume();
  if (!parseIdentifier(fn.name, "after '" + keyword.str() + "'", &fn.loc))
    return false;
  bool hasParams =
      kind == FunctionDecl::Kind::Block || kind == FunctionDecl::Kind::Def;
  if (hasParams) {
    if (!expect(TokenKind::LParen, "to open the parameter list") ||
        !parseFormals(fn.params))
      return false;
  }
  if (consumeIf(TokenKind::Equal)) {
    if (kind == FunctionDecl::Kind::Block) {
      diag.error(fn.loc) << "a block has a body in braces: block " << fn.name
                         << "(...) { ... }";
      return false;
    }
    skipNewlines();
    llvm::SMLoc loc = tok().getLoc();
    std::vector<ExprPtr> values;
    values.push_back(parseExpr());
    if (!values.back())
      return false;
    fn.body.push_back(std::make_unique<ReturnStmt>(loc, std::move(values)));
    model.functions.push_back(std::move(fn));
    return expectTerminator(keyword.str() + " '" + model.functions.back().name +
                            "'");
  }
  if (!tok().is(TokenKind::LBrace)) {
    diag.error(tok().getLoc())
        << "expected '=' or '{' to give the body of " << keyword << " '"
        << fn.name << "', found " << describe(tok());
    return false;
  }
  if (!parseBody(fn.body, keyword.str() + " '" + fn.name + "'"))
    return false;
  model.functions.push_back(std::move(fn));
  return expectTerminator(keyword.str());
}

bool Parser::parseFormals(std::vector<FormalParam> &params) {
  if (consumeIf(TokenKind::RParen))
    return true;
  do {
    FormalParam param;
    if (!parseIdentifier(param.name, "for the parameter", &param.loc))
      return false;
    if (consumeIf(TokenKind::Colon)) {
      param.type.emplace();
      if (!parseType(*param.type))
        return false;
    }
    if (consumeIf(TokenKind::Equal)) {
      param.defaultValue = parseExpr();
      if (!param.defaultValue)
        return false;
    }
    params.push_back(std::move(param));
  } while (consumeIf(TokenKind::Comma));
  return expect(TokenKind::RParen, "to close the parameter list");
}

bool Parser::parseBody(StmtList &body, llvm::StringRef context) {
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return false;
  llvm::SMLoc open = tok().getLoc();
  if (!expect(TokenKind::LBrace, "to open " + context.str()))
    return false;
  skipNewlines();
  while (!tok().is(TokenKind::RBrace)) {
    if (tok().is(TokenKind::Eof)) {
      auto error = diag.error(tok().getLoc());
      error << "expected '}' to close " << context;
      error.attachNote(diag.location(open)) << "the body opens here";
      reportedUnclosedBody = true;
      return false;
    }
    if (diag.tooManyErrors())
      return false;
    llvm::SMLoc start = tok().getLoc();
    StmtPtr stmt = parseStatement();
    if (stmt && expectTerminator("the statement"))
      body.push_back(std::move(stmt));
    else
      recover(start);
    skipNewlines();
  }
  consume(); // }
  return true;
}

bool Parser::parseGenerate(ModelDecl &model) {
  GenerateDecl gen;
  consume(); // generate
  if (!parseIdentifier(gen.name, "for the generated output", &gen.loc))
    return false;
  if (consumeIf(TokenKind::Colon)) {
    gen.type.emplace();
    if (!parseType(*gen.type))
      return false;
  }
  if (!expect(TokenKind::Equal, "before the generation strategy"))
    return false;
  gen.strategy = parseCall("as the generation strategy, e.g. beam(...)");
  if (!gen.strategy)
    return false;
  model.generates.push_back(std::move(gen));
  return expectTerminator("the generate declaration");
}

bool Parser::parseTrain(ModelDecl &model) {
  TrainDecl train;
  train.loc = tok().getLoc();
  consume(); // train
  if (!expect(TokenKind::LBrace, "to open the training section"))
    return false;
  skipNewlines();
  while (!tok().is(TokenKind::RBrace)) {
    if (tok().is(TokenKind::Eof))
      return expect(TokenKind::RBrace, "to close the training section");
    if (diag.tooManyErrors())
      return false;
    bool ok = true;
    llvm::SMLoc start = tok().getLoc();
    llvm::StringRef word = tok().spelling;
    if (tok().is(TokenKind::Identifier) && word == "optimizer") {
      consume();
      train.optimizer = parseCall("after 'optimizer', e.g. adamw(lr = 1e-3)");
      ok = train.optimizer != nullptr;
    } else if (tok().is(TokenKind::Identifier) && word == "schedule") {
      consume();
      train.schedule = parseCall("after 'schedule', e.g. cosine(total = 1000)");
      ok = train.schedule != nullptr;
    } else if (tok().is(TokenKind::Identifier) && word == "stage") {
      ok = parseStage(train);
    } else if (tok().is(TokenKind::Identifier) && peek().is(TokenKind::Equal)) {
      do {
        Binding binding;
        ok = parseBinding(binding, "in the training section");
        if (ok)
          train.settings.push_back(std::move(binding));
      } while (ok && consumeIf(TokenKind::Comma));
    } else {
      diag.error(tok().getLoc())
          << "expected 'optimizer', 'schedule', 'stage' or a setting "
             "(name = value) in the training section, found "
          << describe(tok());
      ok = false;
    }
    if (!ok || !expectTerminator("the training item"))
      recover(start);
    skipNewlines();
  }
  consume(); // }
  model.trains.push_back(std::move(train));
  return expectTerminator("the training section");
}

bool Parser::parseStage(TrainDecl &train) {
  StageDecl stage;
  consume(); // stage
  stage.loc = tok().getLoc();
  if (tok().is(TokenKind::String)) {
    stage.name = tok().stringValue;
    consume();
  } else if (!parseIdentifier(stage.name, "for the stage")) {
    return false;
  }
  if (!expect(TokenKind::LBrace, "to open the stage"))
    return false;
  skipNewlines();
  while (!tok().is(TokenKind::RBrace)) {
    if (tok().is(TokenKind::Eof))
      return expect(TokenKind::RBrace, "to close the stage");
    if (diag.tooManyErrors())
      return false;
    bool ok = true;
    llvm::SMLoc start = tok().getLoc();
    if (tok().is(TokenKind::Identifier) && tok().spelling == "minimize") {
      Objective objective;
      objective.loc = tok().getLoc();
      consume();
      objective.minimize = parseExpr();
      ok = objective.minimize != nullptr;
      if (ok)
        stage.objectives.push_back(std::move(objective));
    } else if (tok().is(TokenKind::Identifier) && peek().is(TokenKind::Equal)) {
      do {
        Binding binding;
        ok = parseBinding(binding, "in the stage");
        if (ok)
          stage.settings.push_back(std::move(binding));
      } while (ok && consumeIf(TokenKind::Comma));
    } else if (tok().is(TokenKind::Identifier) &&
               peek().is(TokenKind::LParen)) {
      Objective objective;
      objective.loc = tok().getLoc();
      objective.alignment = parseCall("as an alignment objective");
      ok = objective.alignment != nullptr;
      if (ok)
        stage.objectives.push_back(std::move(objective));
    } else {
      diag.error(tok().getLoc())
          << "expected 'minimize <losses>', an alignment objective such as "
             "ecpo(...), or a setting in the stage, found "
          << describe(tok());
      ok = false;
    }
    if (!ok || !expectTerminator("the stage item"))
      recover(start);
    skipNewlines();
  }
  consume(); // }
  train.stages.push_back(std::move(stage));
  return true;
}

bool Parser::parseType(TypeExpr &type) {
  type.loc = tok().getLoc();
  if (!tok().is(TokenKind::Identifier)) {
    diag.error(tok().getLoc())
        << "expected a type such as f32[B, d] or id<items>[B], found "
        << describe(tok());
    return false;
  }
  type.dtype = tok().spelling.str();
  consume();
  if (consumeIf(TokenKind::Less)) {
    // Parse above comparisons so the closing '>' ends the vocabulary.
    type.vocab = parseAdditive();
    if (!type.vocab || !expect(TokenKind::Greater, "to close the vocabulary"))
      return false;
  }
  if (consumeIf(TokenKind::LSquare)) {
    type.hasDims = true;
    if (!consumeIf(TokenKind::RSquare)) {
      do {
        ExprPtr dim = parseExpr();
        if (!dim)
          return false;
        type.dims.push_back(std::move(dim));
      } while (consumeIf(TokenKind::Comma));
      if (!expect(TokenKind::RSquare, "to close the shape"))
        return false;
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

StmtPtr Parser::parseStatement() {
  llvm::SMLoc loc = tok().getLoc();
  if (consumeIf(TokenKind::Kw_return)) {
    std::vector<ExprPtr> values;
    do {
      // A trailing comma continues the list on the next line.
      if (!values.empty())
        skipNewlines();
      ExprPtr value = parseExpr();
      if (!value)
        return nullptr;
      values.push_back(std::move(value));
    } while (consumeIf(TokenKind::Comma));
    return std::make_unique<ReturnStmt>(loc, std::move(values));
  }
  if (tok().is(TokenKind::Kw_if))
    return parseIf();
  if (tok().is(TokenKind::Kw_for))
    return parseFor();
  if (tok().is(TokenKind::Identifier) &&
      (peek().is(TokenKind::Equal) || peek().is(TokenKind::Comma))) {
    std::vector<NameRef> targets;
    do {
      NameRef target;
      if (!parseIdentifier(target.name, "to assign", &target.loc))
        return nullptr;
      targets.push_back(std::move(target));
    } while (consumeIf(TokenKind::Comma));
    if (!expect(TokenKind::Equal, "in the assignment"))
      return nullptr;
    skipNewlines();
    ExprPtr value = parseExpr();
    if (!value)
      return nullptr;
    return std::make_unique<AssignStmt>(loc, std::move(targets),
                                        std::move(value));
  }
  diag.error(loc) << "expected a statement (name = value, return ..., if ..., "
                     "for ...), found "
                  << describe(tok());
  return nullptr;
}

StmtPtr Parser::parseIf() {
  llvm::SMLoc loc = tok().getLoc();
  consume(); // if
  ExprPtr cond = parseExpr();
  if (!cond)
    return nullptr;
  StmtList thenBody, elseBody;
  if (!parseBody(thenBody, "the 'if' branch"))
    return nullptr;
  // Allow `}` and `else` on separate lines.
  if (tok().is(TokenKind::Newline) && peek().is(TokenKind::Kw_else))
    consume();
  if (consumeIf(TokenKind::Kw_else)) {
    if (tok().is(TokenKind::Kw_if)) {
      DepthGuard guard(*this);
      if (guard.tooDeep())
        return nullptr;
      StmtPtr nested = parseIf();
      if (!nested)
        return nullptr;
      elseBody.push_back(std::move(nested));
    } else if (!parseBody(elseBody, "the 'else' branch")) {
      return nullptr;
    }
  }
  return std::make_unique<IfStmt>(loc, std::move(cond), std::move(thenBody),
                                  std::move(elseBody));
}

StmtPtr Parser::parseFor() {
  llvm::SMLoc loc = tok().getLoc();
  consume(); // for
  NameRef var;
  if (!parseIdentifier(var.name, "after 'for'", &var.loc) ||
      !expect(TokenKind::Kw_in, "after the loop variable"))
    return nullptr;
  ExprPtr iterable = parseExpr();
  if (!iterable)
    return nullptr;
  StmtList body;
  if (!parseBody(body, "the 'for' loop"))
    return nullptr;
  return std::make_unique<ForStmt>(loc, std::move(var), std::move(iterable),
                                   std::move(body));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ExprPtr Parser::parseExpr() {
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  return parseOr();
}

ExprPtr Parser::parseOr() {
  ExprPtr lhs = parseAnd();
  unsigned links = 0;
  while (lhs && tok().is(TokenKind::Kw_or)) {
    if (!growChain(links))
      return nullptr;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    skipNewlines();
    ExprPtr rhs = parseAnd();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(loc, BinaryOp::Or, std::move(lhs),
                                       std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseAnd() {
  ExprPtr lhs = parseNot();
  unsigned links = 0;
  while (lhs && tok().is(TokenKind::Kw_and)) {
    if (!growChain(links))
      return nullptr;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    skipNewlines();
    ExprPtr rhs = parseNot();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(loc, BinaryOp::And, std::move(lhs),
                                       std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseNot() {
  if (tok().is(TokenKind::Kw_not)) {
    DepthGuard guard(*this);
    if (guard.tooDeep())
      return nullptr;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    ExprPtr operand = parseNot();
    if (!operand)
      return nullptr;
    return std::make_unique<UnaryExpr>(loc, UnaryOp::Not, std::move(operand));
  }
  return parseComparison();
}

static std::optional<BinaryOp> comparisonOp(TokenKind kind) {
  switch (kind) {
  case TokenKind::EqualEqual:
    return BinaryOp::Eq;
  case TokenKind::NotEqual:
    return BinaryOp::Ne;
  case TokenKind::Less:
    return BinaryOp::Lt;
  case TokenKind::LessEqual:
    return BinaryOp::Le;
  case TokenKind::Greater:
    return BinaryOp::Gt;
  case TokenKind::GreaterEqual:
    return BinaryOp::Ge;
  default:
    return std::nullopt;
  }
}

ExprPtr Parser::parseComparison() {
  ExprPtr lhs = parseAdditive();
  if (!lhs)
    return nullptr;
  if (std::optional<BinaryOp> op = comparisonOp(tok().kind)) {
    llvm::SMLoc loc = tok().getLoc();
    consume();
    skipNewlines();
    ExprPtr rhs = parseAdditive();
    if (!rhs)
      return nullptr;
    lhs =
        std::make_unique<BinaryExpr>(loc, *op, std::move(lhs), std::move(rhs));
    if (comparisonOp(tok().kind)) {
      diag.error(tok().getLoc())
          << "comparisons do not chain; combine them with 'and'";
      return nullptr;
    }
  }
  return lhs;
}

ExprPtr Parser::parseAdditive() {
  ExprPtr lhs = parseMultiplicative();
  unsigned links = 0;
  while (lhs && (tok().is(TokenKind::Plus) || tok().is(TokenKind::Minus))) {
    if (!growChain(links))
      return nullptr;
    BinaryOp op = tok().is(TokenKind::Plus) ? BinaryOp::Add : BinaryOp::Sub;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    skipNewlines();
    ExprPtr rhs = parseMultiplicative();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(loc, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseMultiplicative() {
  ExprPtr lhs = parseUnary();
  unsigned links = 0;
  while (lhs && (tok().is(TokenKind::Star) || tok().is(TokenKind::Slash) ||
                 tok().is(TokenKind::Percent))) {
    if (!growChain(links))
      return nullptr;
    BinaryOp op = tok().is(TokenKind::Star)    ? BinaryOp::Mul
                  : tok().is(TokenKind::Slash) ? BinaryOp::Div
                                               : BinaryOp::Mod;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    skipNewlines();
    ExprPtr rhs = parseUnary();
    if (!rhs)
      return nullptr;
    lhs = std::make_unique<BinaryExpr>(loc, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseUnary() {
  if (tok().is(TokenKind::Minus) || tok().is(TokenKind::Plus)) {
    DepthGuard guard(*this);
    if (guard.tooDeep())
      return nullptr;
    UnaryOp op = tok().is(TokenKind::Minus) ? UnaryOp::Neg : UnaryOp::Plus;
    llvm::SMLoc loc = tok().getLoc();
    consume();
    ExprPtr operand = parseUnary();
    if (!operand)
      return nullptr;
    return std::make_unique<UnaryExpr>(loc, op, std::move(operand));
  }
  return parsePower();
}

ExprPtr Parser::parsePower() {
  ExprPtr base = parsePostfix();
  if (!base || !tok().is(TokenKind::StarStar))
    return base;
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  llvm::SMLoc loc = tok().getLoc();
  consume();
  // Right-associative, and binds tighter than a unary minus on its left:
  // -x ** 2 is -(x ** 2).
  ExprPtr exponent = parseUnary();
  if (!exponent)
    return nullptr;
  return std::make_unique<BinaryExpr>(loc, BinaryOp::Pow, std::move(base),
                                      std::move(exponent));
}

ExprPtr Parser::parsePostfix() {
  ExprPtr expr = parsePrimary();
  unsigned links = 0;
  while (expr) {
    // Calls, subscripts and members chain too: f(x)(y)[0].a ...
    if ((tok().is(TokenKind::LParen) || tok().is(TokenKind::LSquare) ||
         tok().is(TokenKind::Dot)) &&
        !growChain(links))
      return nullptr;
    if (tok().is(TokenKind::LParen)) {
      expr = parseCallArgs(std::move(expr));
    } else if (tok().is(TokenKind::LSquare)) {
      expr = parseIndex(std::move(expr));
    } else if (tok().is(TokenKind::Dot)) {
      llvm::SMLoc loc = tok().getLoc();
      consume();
      std::string member;
      if (!parseIdentifier(member, "after '.'"))
        return nullptr;
      expr =
          std::make_unique<MemberExpr>(loc, std::move(expr), std::move(member));
    } else {
      break;
    }
  }
  return expr;
}

std::unique_ptr<CallExpr> Parser::parseCallArgs(ExprPtr callee) {
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  llvm::SMLoc loc = callee->getLoc();
  consume(); // (
  std::vector<Arg> args;
  bool sawKeyword = false;
  if (!tok().is(TokenKind::RParen)) {
    do {
      if (tok().is(TokenKind::RParen))
        break; // trailing comma
      Arg arg;
      arg.loc = tok().getLoc();
      // Argument names may be reserved words (`ecpo(reward = ...)`): before
      // '=' they cannot be anything else.
      if ((tok().is(TokenKind::Identifier) || tok().isKeyword()) &&
          peek().is(TokenKind::Equal)) {
        arg.name = tok().spelling.str();
        consume();
        consume(); // =
        sawKeyword = true;
      } else if (sawKeyword) {
        diag.error(arg.loc)
            << "a positional argument cannot follow keyword arguments";
        return nullptr;
      }
      arg.value = parseExpr();
      if (!arg.value)
        return nullptr;
      args.push_back(std::move(arg));
    } while (consumeIf(TokenKind::Comma));
  }
  if (!expect(TokenKind::RParen, "to close the argument list"))
    return nullptr;
  return std::make_unique<CallExpr>(loc, std::move(callee), std::move(args));
}

ExprPtr Parser::parseIndex(ExprPtr base) {
  DepthGuard guard(*this);
  if (guard.tooDeep())
    return nullptr;
  llvm::SMLoc loc = tok().getLoc();
  consume(); // [
  std::vector<IndexItem> items;
  do {
    IndexItem item;
    item.loc = tok().getLoc();
    if (!tok().is(TokenKind::Colon)) {
      item.start = parseExpr();
      if (!item.start)
        return nullptr;
    }
    if (consumeIf(TokenKind::Colon)) {
      item.isRange = true;
      if (!tok().is(TokenKind::Comma) && !tok().is(TokenKind::RSquare)) {
        item.end = parseExpr();
        if (!item.end)
          return nullptr;
      }
    }
    items.push_back(std::move(item));
  } while (consumeIf(TokenKind::Comma));
  if (!expect(TokenKind::RSquare, "to close the subscript"))
    return nullptr;
  return std::make_unique<IndexExpr>(loc, std::move(base), std::move(items));
}

std::unique_ptr<CallExpr> Parser::parseCall(llvm::StringRef context) {
  ExprPtr callee = parsePostfix();
  if (!callee)
    return nullptr;
  if (auto *call = llvm::dyn_cast<CallExpr>(callee.get())) {
    (void)callee.release();
    return std::unique_ptr<CallExpr>(call);
  }
  diag.error(callee->getLoc()) << "expected a call " << context;
  return nullptr;
}

ExprPtr Parser::parsePrimary() {
  llvm::SMLoc loc = tok().getLoc();
  switch (tok().kind) {
  case TokenKind::Integer: {
    int64_t value = tok().intValue;
    consume();
    return std::make_unique<IntExpr>(loc, value);
  }
  case TokenKind::Float: {
    double value = tok().floatValue;
    consume();
    return std::make_unique<FloatExpr>(loc, value);
  }
  case TokenKind::String: {
    std::string value = tok().stringValue;
    consume();
    return std::make_unique<StringExpr>(loc, std::move(value));
  }
  case TokenKind::Kw_true:
  case TokenKind::Kw_false: {
    bool value = tok().is(TokenKind::Kw_true);
    consume();
    return std::make_unique<BoolExpr>(loc, value);
  }
  case TokenKind::Identifier: {
    std::string name = tok().spelling.str();
    consume();
    return std::make_unique<NameExpr>(loc, std::move(name));
  }
  case TokenKind::LParen: {
    consume();
    ExprPtr inner = parseExpr();
    if (!inner || !expect(TokenKind::RParen, "to close the parenthesis"))
      return nullptr;
    return inner;
  }
  case TokenKind::LSquare: {
    DepthGuard guard(*this);
    if (guard.tooDeep())
      return nullptr;
    consume();
    std::vector<ExprPtr> elements;
    if (!tok().is(TokenKind::RSquare)) {
      do {
        if (tok().is(TokenKind::RSquare))
          break; // trailing comma
        ExprPtr element = parseExpr();
        if (!element)
          return nullptr;
        elements.push_back(std::move(element));
      } while (consumeIf(TokenKind::Comma));
    }
    if (!expect(TokenKind::RSquare, "to close the list"))
      return nullptr;
    return std::make_unique<ListExpr>(loc, std::move(elements));
  }
  case TokenKind::Kw_repeat: {
    consume();
    // The count is a primary (`repeat layers block(x)`, `repeat (n + 1) ...`)
    // so that the call after it is not read as part of it.
    ExprPtr count = parsePrimary();
    if (!count)
      return nullptr;
    if (!tok().is(TokenKind::Identifier)) {
      diag.error(tok().getLoc())
          << "expected the block to repeat after the count, found "
          << describe(tok())
          << "; a computed count goes in parentheses: repeat (n / 2) "
             "layer(x)";
      return nullptr;
    }
    std::unique_ptr<CallExpr> call =
        parseCall("after 'repeat <count>', e.g. repeat 4 layer(x)");
    if (!call)
      return nullptr;
    return std::make_unique<RepeatExpr>(loc, std::move(count), std::move(call));
  }
  default: {
    auto error = diag.error(loc);
    error << "expected an expression, found " << describe(tok());
    if (tok().isKeyword())
      error << " ('" << tok().spelling << "' is a reserved word)";
    return nullptr;
  }
  }
}
