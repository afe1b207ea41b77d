# checkbridge intake profile "backgroundcheckrequest": the shape a PageUp peer's published
# field table implies (shared reference, pageup-api.md section 6): a `backgroundcheckrequest`
# object with an `id`, an `applicant` with names and `emailid`, an `application` whose `job`
# has a `divisioncode`, and a `package` with a `code`. Keys match in any casing. Fields the
# table does not name (phone, date of birth, addresses, histories, salary, check types) are read where this
# profile guesses they would be, and are otherwise missing: an order that needs them fails
# with a reason naming them. Output: docs/schema/invitation.schema.json.
#
# To fit another payload, copy this file, edit it, and name the copy in the tenant's
# `[tenants.T.intake] mapping = "FILE.jq"`. Keys named by a GUID have already been removed.

# Every key lower-cased, so `EmailId`, `emailId` and `emailid` are one key.
def lower: walk(if type == "object" then with_entries(.key |= ascii_downcase) else . end);
# A text field: strings as they are, numbers and booleans as text, anything else missing.
def text: if type == "string" then . elif type == "number" or type == "boolean" then tostring else null end;
# The value at a path, or null where the payload has something else on the way.
def at(f): first((try f catch null), null);
# A list of objects each read by `f`.
def list(f): if type == "array" then map(select(type == "object") | f) else null end;

lower
| (if (.backgroundcheckrequest | type) == "object" then .backgroundcheckrequest else . end) as $r
| ($r | at(.applicant)) as $a
| ($r | at(.application.job)) as $j
| {
    id: ($r | at(.id) | text),
    status: ($r | at(.status) | text),
    provider: ($r | at(.provider) | text),
    packageCode: ($r | at(.package.code) | text),
    # A guess: the check types requested, beside the package's code (or on the request).
    checkTypes: ($r | at(.package.checktypes // .checktypes)
      | if type == "array" then map(text) elif type == "string" then . else null end),
    createdDate: ($r | at(.createddate) | text),
    candidate: {
      applicantId: ($a | at(.id // .applicantid) | text),
      firstName: ($a | at(.firstname) | text),
      middleName: ($a | at(.middlename) | text),
      lastName: ($a | at(.lastname) | text),
      email: ($a | at(.emailid // .email) | text),
      phone: ($a | at(.phone // .mobile) | text),
      dateOfBirth: ($a | at(.dateofbirth) | text),
      nationalId: ($a | at(.nationalid) | text),
      addresses: ($a | at(.addresses) | list({
        addressType: (at(.addresstype) | text), line1: (at(.line1) | text),
        line2: (at(.line2) | text), city: (at(.city) | text), state: (at(.state) | text),
        postcode: (at(.postcode) | text), country: (at(.country) | text),
        fromDate: (at(.fromdate) | text), toDate: (at(.todate) | text)
      }))
    },
    job: {
      jobId: ($j | at(.id // .jobid) | text),
      title: ($j | at(.title) | text),
      department: ($j | at(.divisioncode) | text),
      salary: ($j | at(.salary) | if type == "number" or type == "string" then . else null end),
      worksite: {
        city: ($j | at(.location.city) | text),
        state: ($j | at(.location.state) | text),
        country: ($j | at(.location.country) | text)
      }
    },
    requester: {
      firstName: ($r | at(.requester.firstname) | text),
      lastName: ($r | at(.requester.lastname) | text),
      email: ($r | at(.requester.emailid // .requester.email) | text)
    },
    employmentHistory: ($a | at(.employmenthistory) | list({
      employerName: (at(.employername) | text), position: (at(.position) | text),
      location: (at(.location) | text), email: (at(.email) | text), phone: (at(.phone) | text),
      startDate: (at(.startdate) | text), endDate: (at(.enddate) | text)
    })),
    educationHistory: ($a | at(.educationhistory) | list({
      institutionName: (at(.institutionname) | text), qualification: (at(.qualification) | text),
      fieldOfStudy: (at(.fieldofstudy) | text), graduationDate: (at(.graduationdate) | text),
      email: (at(.email) | text), phone: (at(.phone) | text)
    })),
    documents: ($r | at(.documents) | list({
      documentId: (at(.id // .documentid) | text), documentType: (at(.documenttype // .type) | text),
      fileName: (at(.filename) | text), contentType: (at(.contenttype) | text),
      url: (at(.url) | text), content: (at(.content) | text)
    }))
  }
